import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import {
  chosenOutput,
  chosenWait,
  chosenWatch,
  outputFormat,
  parseInterval,
} from "./option-parsers.js";
import { CliUsageError } from "./usage-error.js";

describe("--output", () => {
  it("takes json or table", () => {
    expect(outputFormat("json")).toBe("json");
    expect(outputFormat("table")).toBe("table");
  });

  it.each(["yaml", "JSON", "", "tables"])(
    "refuses %j naming the option and the choices",
    (value) => {
      expect(() => outputFormat(value)).toThrow(InvalidArgumentError);
      expect(() => outputFormat(value)).toThrow("--output must be json or table");
    },
  );

  const cases: {
    name: string;
    opts: Parameters<typeof chosenOutput>[0];
    format: "json" | "table";
  }[] = [
    { name: "is a table when nothing is said", opts: {}, format: "table" },
    { name: "is what --output says", opts: { output: "json" }, format: "json" },
    { name: "is json with --json", opts: { json: true }, format: "json" },
    {
      name: "agrees with --json --output json",
      opts: { json: true, output: "json" },
      format: "json",
    },
  ];
  it.each(cases)("$name", ({ opts, format }) => {
    expect(chosenOutput(opts)).toBe(format);
  });

  it("refuses --json with --output table", () => {
    expect(() => chosenOutput({ json: true, output: "table" })).toThrow(CliUsageError);
  });
});

describe("--watch and --interval", () => {
  it("watches every 2 s unless told otherwise", () => {
    expect(chosenWatch({ watch: true })).toEqual({ intervalSec: 2 });
    expect(chosenWatch({ watch: true, interval: 0.5 })).toEqual({ intervalSec: 0.5 });
    expect(chosenWatch({})).toBeUndefined();
  });

  it("refuses --interval without --watch", () => {
    expect(() => chosenWatch({ interval: 5 })).toThrow("--interval goes with --watch");
  });

  it.each(["0.2", "1", "2.5", "3600"])("takes an interval of %s s", (value) => {
    expect(parseInterval(value)).toBe(Number(value));
  });

  it.each(["0", "0.1", "-1", "3601", "soon", "", "1e9"])("refuses an interval of %j", (value) => {
    expect(() => parseInterval(value)).toThrow(
      /--interval must be a number of seconds from 0\.2 to 3600/,
    );
  });
});

describe("--wait, --no-wait and --wait-timeout", () => {
  it("waits 300 s by default, polling twice a second", () => {
    expect(chosenWait({})).toEqual({ timeoutMs: 300_000, pollMs: 500 });
    expect(chosenWait({ wait: true, waitTimeout: 20 })).toEqual({ timeoutMs: 20_000, pollMs: 500 });
  });

  it("does not wait with --no-wait", () => {
    expect(chosenWait({ wait: false })).toBeUndefined();
  });

  it("refuses --wait-timeout with --no-wait", () => {
    expect(() => chosenWait({ wait: false, waitTimeout: 5 })).toThrow(
      "--wait-timeout goes with waiting, not with --no-wait",
    );
  });
});
