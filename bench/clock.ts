// The one clock every bench process stamps events with, so times taken in different processes on
// this machine can be subtracted: the wall-clock instant the process started (performance.timeOrigin,
// read once from the system clock) plus the monotonic high-resolution time since then. Microsecond
// resolution, and immune to clock steps during a run. The harness also measures the remaining offset
// between its clock and the receiver's (see measureClockOffset in receiver-client.ts).
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
