// How the machine's CPU was shared during a scenario, read from /proc (Linux; elsewhere the
// numbers are null): CPU seconds of each process involved, the peak RSS of Tapwire's processes,
// and how busy the whole machine was, so what nobody in the run used shows up as "other".
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** user + system CPU of a live process, in ms, or null when /proc cannot tell. */
export function processCpuMs(pid: number): number | null {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU of a process's main thread alone (its JavaScript event loop), in ms, or null. The rest of
 * the process's CPU is its other threads: the SQLite thread, libuv's pool, V8's GC helpers.
 */
export function mainThreadCpuMs(pid: number): number | null {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuMs(path: string): number | null {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/** Peak resident set size (VmHWM) of a live process, in MB, or null. */
export function peakRssMb(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU ms of every process named `postgres` (server and backends), by pid. */
function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const cpu = processCpuMs(Number(entry));
      if (cpu !== null) out.set(Number(entry), cpu);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Busy and total CPU time of the whole machine (all cores), in ms. */
function machineCpu(): { busyMs: number; totalMs: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …; idle and iowait are not busy.
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busyMs: ((total - idle) * 1000) / clockTicks(), totalMs: (total * 1000) / clockTicks() };
  } catch {
    return null;
  }
}

/** CPU seconds used during one measured phase, by process role. */
export interface CpuShare {
  wallSeconds: number;
  /** Tapwire processes of this phase (for those started during it, including their start-up). */
  tapwireSeconds: number | null;
  /** Of tapwireSeconds, what the processes' main threads used (the busiest main thread is the limit of one process). */
  tapwireMainThreadSeconds: number | null;
  receiverSeconds: number;
  /** The harness process: load generators (raw sender, API clients). */
  harnessSeconds: number;
  relaySeconds: number | null;
  /** Every `postgres` process on the machine (backends that exited during the phase are missed). */
  postgresSeconds: number | null;
  /** Everything else that ran on the machine meanwhile: busy time minus the above. */
  otherSeconds: number | null;
  /** Busy share of all cores, 0–100 %. */
  machineBusyPercent: number | null;
}

export interface CpuMeterEnd {
  tapwirePids?: number[];
  receiverCpuMs: number;
  relayCpuMs?: number;
}

/** Snapshot at the start of a phase; end() gives the shares. Take end() before stopping Tapwire. */
export class CpuMeter {
  private readonly startedAt = performance.now();
  private readonly harness = process.cpuUsage();
  private readonly postgres = postgresCpu();
  private readonly machine = machineCpu();

  private readonly receiverCpuMs: number;
  private readonly relayCpuMs: number | undefined;
  /** CPU already used by Tapwire processes running when the phase starts (startup, setup). */
  private readonly tapwireAtStart = new Map<number, number>();
  private readonly tapwireMainAtStart = new Map<number, number>();

  constructor(start: { receiverCpuMs: number; relayCpuMs?: number; tapwirePids?: number[] }) {
    this.receiverCpuMs = start.receiverCpuMs;
    this.relayCpuMs = start.relayCpuMs;
    for (const pid of start.tapwirePids ?? []) {
      this.tapwireAtStart.set(pid, processCpuMs(pid) ?? 0);
      this.tapwireMainAtStart.set(pid, mainThreadCpuMs(pid) ?? 0);
    }
  }

  end(input: CpuMeterEnd): CpuShare {
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const harnessUsage = process.cpuUsage(this.harness);
    const harnessSeconds = (harnessUsage.user + harnessUsage.system) / 1e6;
    const receiverSeconds = (input.receiverCpuMs - this.receiverCpuMs) / 1000;
    const relaySeconds = input.relayCpuMs !== undefined && this.relayCpuMs !== undefined ? (input.relayCpuMs - this.relayCpuMs) / 1000 : null;
    let tapwireSeconds: number | null = null;
    let tapwireMainThreadSeconds: number | null = null;
    if (input.tapwirePids && input.tapwirePids.length > 0) {
      const sum = (read: (pid: number) => number | null, atStart: Map<number, number>): number | null => {
        const each = input.tapwirePids!.map((pid) => {
          const ms = read(pid);
          return ms === null ? null : ms - (atStart.get(pid) ?? 0);
        });
        return each.every((ms) => ms !== null) ? each.reduce<number>((a, b) => a + b!, 0) / 1000 : null;
      };
      tapwireSeconds = sum(processCpuMs, this.tapwireAtStart);
      tapwireMainThreadSeconds = sum(mainThreadCpuMs, this.tapwireMainAtStart);
    }
    let postgresSeconds: number | null = null;
    const postgresNow = postgresCpu();
    if (postgresNow.size > 0) {
      let ms = 0;
      for (const [pid, cpu] of postgresNow) ms += cpu - (this.postgres.get(pid) ?? 0);
      postgresSeconds = ms / 1000;
    }
    const machineNow = machineCpu();
    let machineBusyPercent: number | null = null;
    let otherSeconds: number | null = null;
    if (machineNow && this.machine) {
      const busy = machineNow.busyMs - this.machine.busyMs;
      const total = machineNow.totalMs - this.machine.totalMs;
      machineBusyPercent = total > 0 ? (100 * busy) / total : null;
      const ours = harnessSeconds + receiverSeconds + (relaySeconds ?? 0) + (tapwireSeconds ?? 0) + (postgresSeconds ?? 0);
      otherSeconds = Math.max(0, busy / 1000 - ours);
    }
    return { wallSeconds, tapwireSeconds, tapwireMainThreadSeconds, receiverSeconds, harnessSeconds, relaySeconds, postgresSeconds, otherSeconds, machineBusyPercent };
  }
}
