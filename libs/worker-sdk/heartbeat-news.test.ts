import { describe, expect, it } from "vitest";
import { createHeartbeatNews, type WorkerLoad } from "./heartbeat-news.js";

const MIB = 1024n * 1024n;
const IDLE: WorkerLoad = {
  runningTaskIds: [],
  freeSlots: 4,
  cpuUtilization: 0.1,
  memoryRssBytes: 200n * MIB,
  draining: false,
};

describe("heartbeat news", () => {
  it("sends the full load first, then unchanged while nothing moved past the thresholds", () => {
    const news = createHeartbeatNews();
    expect(news.next(IDLE, false)).toEqual(IDLE);
    expect(news.next({ ...IDLE, cpuUtilization: 0.14 }, false)).toEqual({ unchanged: true });
    expect(news.next({ ...IDLE, memoryRssBytes: 209n * MIB }, false)).toEqual({ unchanged: true });
  });

  it.each([
    ["a task starts", { runningTaskIds: ["t1"], freeSlots: 3 }],
    ["the same count of other tasks runs", { runningTaskIds: ["t2"] }],
    ["free slots change", { freeSlots: 2 }],
    ["it starts draining", { draining: true }],
    ["CPU moves by 0.05 of a core", { cpuUtilization: 0.15 }],
    ["RSS moves by 5 %", { memoryRssBytes: 210n * MIB }],
  ] as const)("sends the full load when %s", (_name, change) => {
    const news = createHeartbeatNews();
    news.next({ ...IDLE, runningTaskIds: ["t1"] }, false);
    const next = { ...IDLE, runningTaskIds: ["t1"], ...change };
    expect(news.next(next, false)).toEqual(next);
  });

  it("measures a move against what it last sent, so slow drift is reported once it adds up", () => {
    const news = createHeartbeatNews();
    news.next(IDLE, false);
    expect(news.next({ ...IDLE, cpuUtilization: 0.13 }, false)).toEqual({ unchanged: true });
    expect(news.next({ ...IDLE, cpuUtilization: 0.16 }, false)).toMatchObject({
      cpuUtilization: 0.16,
    });
    expect(news.next({ ...IDLE, cpuUtilization: 0.19 }, false)).toEqual({ unchanged: true });
  });

  it("sends the full load when forced, and a new session starts over", () => {
    const news = createHeartbeatNews();
    news.next(IDLE, false);
    expect(news.next(IDLE, true)).toEqual(IDLE);
    expect(createHeartbeatNews().next(IDLE, false)).toEqual(IDLE);
  });

  it("counts a small process's memory news from 4 MiB", () => {
    const news = createHeartbeatNews();
    const small = { ...IDLE, memoryRssBytes: 40n * MIB };
    news.next(small, false);
    expect(news.next({ ...small, memoryRssBytes: 43n * MIB }, false)).toEqual({ unchanged: true });
    expect(news.next({ ...small, memoryRssBytes: 44n * MIB }, false)).toMatchObject({
      memoryRssBytes: 44n * MIB,
    });
  });
});
