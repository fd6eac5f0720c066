// The load a heartbeat reports: this process's CPU use since the previous
// sample (a fraction of one core, so 2.0 means two busy cores) and its RSS.

export interface ProcessLoad {
  readonly cpuUtilization: number;
  readonly memoryRssBytes: bigint;
}

export interface ProcessLoadSampler {
  sample(): ProcessLoad;
}

export interface ProcessLoadSources {
  readonly cpuUsage?: () => NodeJS.CpuUsage;
  readonly nowMicros?: () => number;
  readonly rssBytes?: () => number;
}

export function createProcessLoadSampler(sources: ProcessLoadSources = {}): ProcessLoadSampler {
  const cpuUsage = sources.cpuUsage ?? (() => process.cpuUsage());
  const nowMicros = sources.nowMicros ?? (() => Number(process.hrtime.bigint() / 1000n));
  const rssBytes = sources.rssBytes ?? (() => process.memoryUsage.rss());
  let previousCpu = cpuUsage();
  let previousMicros = nowMicros();
  return {
    sample() {
      const cpu = cpuUsage();
      const micros = nowMicros();
      const busyMicros = cpu.user - previousCpu.user + (cpu.system - previousCpu.system);
      const elapsedMicros = micros - previousMicros;
      previousCpu = cpu;
      previousMicros = micros;
      const cpuUtilization = elapsedMicros > 0 ? Math.max(0, busyMicros / elapsedMicros) : 0;
      return { cpuUtilization, memoryRssBytes: BigInt(Math.max(0, Math.round(rssBytes()))) };
    },
  };
}
