-- 0007 (SQLite): an application's throttleRate (messages per second, stored since 0001) is
-- enforced. As an endpoint's (0002), with GCRA: throttle_tat is the "theoretical arrival time"
-- (epoch ms, fractional) after which the application's next attempt may start, to any of its
-- endpoints; each attempt claimed moves it on by 1000 / rate ms, and a burst of up to 100 ms worth
-- may start at once. Only claims write it.
ALTER TABLE applications ADD COLUMN throttle_tat REAL;
