import { describe, expect, it } from 'vitest';
import { TapwireMetrics } from './metrics.js';

function value(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('TapwireMetrics', () => {
  it('counts attempts by outcome, observes latency and tracks in-flight attempts per endpoint', async () => {
    const metrics = new TapwireMetrics({ now: () => new Date(0), processMetrics: false });
    metrics.attemptStarted('ep_a');
    metrics.attemptStarted('ep_a');
    metrics.attemptStarted('ep_b');
    let text = await metrics.render();
    expect(value(text, 'tapwire_endpoint_in_flight{endpoint_id="ep_a"}')).toBe(2);
    expect(value(text, 'tapwire_endpoint_in_flight{endpoint_id="ep_b"}')).toBe(1);
    expect(value(text, 'tapwire_delivery_attempts_total{outcome="success"}')).toBe(0);

    metrics.attemptEnded('ep_a');
    metrics.attemptRecorded('success', 12);
    metrics.attemptEnded('ep_a');
    metrics.attemptRecorded('retry', 2_000);
    metrics.attemptEnded('ep_b');
    metrics.attemptRecorded('fail', 40);
    metrics.attemptRecorded('canceled', 0);
    metrics.ssrfBlocked();
    text = await metrics.render();
    expect(text).not.toContain('tapwire_endpoint_in_flight{');
    expect(value(text, 'tapwire_delivery_attempts_total{outcome="success"}')).toBe(1);
    expect(value(text, 'tapwire_delivery_attempts_total{outcome="retry"}')).toBe(1);
    expect(value(text, 'tapwire_delivery_attempts_total{outcome="fail"}')).toBe(1);
    expect(value(text, 'tapwire_delivery_attempts_total{outcome="canceled"}')).toBe(1);
    expect(value(text, 'tapwire_attempt_duration_seconds_bucket{le="0.025",outcome="success"}')).toBe(1);
    expect(value(text, 'tapwire_attempt_duration_seconds_bucket{le="1",outcome="retry"}')).toBe(0);
    expect(value(text, 'tapwire_attempt_duration_seconds_bucket{le="2.5",outcome="retry"}')).toBe(1);
    expect(value(text, 'tapwire_ssrf_blocked_total')).toBe(1);
  });

  it('reads the queue once per scrape and reports the age of the oldest due delivery', async () => {
    let reads = 0;
    const metrics = new TapwireMetrics({
      now: () => new Date(100_000),
      processMetrics: false,
      readQueue: async () => {
        reads++;
        return { pending: 7, due: 3, oldestDueAt: new Date(40_000) };
      },
    });
    const text = await metrics.render();
    expect(reads).toBe(1);
    expect(value(text, 'tapwire_queue_depth')).toBe(7);
    expect(value(text, 'tapwire_queue_due')).toBe(3);
    expect(value(text, 'tapwire_queue_oldest_due_age_seconds')).toBe(60);
    await metrics.render();
    expect(reads).toBe(2);
  });
});

describe('TapwireMetrics when the store is down', () => {
  it('still answers, with NaN queue gauges', async () => {
    const metrics = new TapwireMetrics({
      now: () => new Date(0),
      processMetrics: false,
      readQueue: () => Promise.reject(new Error('connection refused')),
    });
    const text = await metrics.render();
    expect(text).toMatch(/^tapwire_queue_depth nan$/im);
    expect(text).toMatch(/^tapwire_queue_oldest_due_age_seconds nan$/im);
    expect(text).toContain('tapwire_delivery_attempts_total{outcome="success"} 0');
  });
});
