import { describe, expect, it } from "vitest";
import { createBoundedLabel, EMPTY_LABEL_VALUE, OTHER_LABEL_VALUE } from "./bounded-label.js";
import { labelChildren } from "./label-children.js";

describe("a bounded label", () => {
  it("keeps the first values, then says other; empty is none", () => {
    const admittedNow: string[] = [];
    const label = createBoundedLabel({ limit: 2, onAdmitted: (v) => admittedNow.push(v) });
    const cases: [string, string][] = [
      ["resize", "resize"],
      ["", EMPTY_LABEL_VALUE],
      ["encode", "encode"],
      ["resize", "resize"],
      ["thumbnail", OTHER_LABEL_VALUE],
      ["encode", "encode"],
    ];
    for (const [value, expected] of cases) expect(label.of(value), value).toBe(expected);
    expect(admittedNow).toEqual(["resize", "encode"]);
    expect([...label.admitted]).toEqual(["resize", "encode"]);
  });
});

describe("label children", () => {
  it("binds each tuple of values once", () => {
    const bound: string[][] = [];
    const child = labelChildren((...values) => {
      bound.push(values);
      return { values };
    });
    const first = child("a", "b");
    expect(child("a", "b")).toBe(first);
    expect(child("ab", "")).not.toBe(first);
    expect(bound).toEqual([
      ["a", "b"],
      ["ab", ""],
    ]);
  });
});
