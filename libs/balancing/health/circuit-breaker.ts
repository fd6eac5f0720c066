// Circuit breaker per worker, a pure state machine fed with task outcomes:
//   closed --N consecutive failures--> open --cool-off--> half_open
//   half_open --probe succeeds--> closed;  half_open --probe fails--> open
// The filters keep an open worker out and let a half-open one take a single
// probe (nothing else in flight). Outcomes that arrive while open belong to
// tasks placed before it opened and are ignored.

export type Circuit =
  | { readonly kind: "closed"; readonly consecutiveFailures: number }
  | { readonly kind: "open"; readonly openedAtMs: number }
  | { readonly kind: "half_open" };

export interface CircuitOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold: number;
  /** How long it stays open before a probe is let through. */
  readonly coolOffMs: number;
}

export const DEFAULT_CIRCUIT_OPTIONS: CircuitOptions = { failureThreshold: 5, coolOffMs: 10_000 };

export const CLOSED_CIRCUIT: Circuit = { kind: "closed", consecutiveFailures: 0 };

/** The circuit as of nowMs: an open circuit half-opens once its cool-off has passed. */
export function circuitAt(circuit: Circuit, nowMs: number, options: CircuitOptions): Circuit {
  return circuit.kind === "open" && nowMs - circuit.openedAtMs >= options.coolOffMs
    ? { kind: "half_open" }
    : circuit;
}

export function recordCircuitOutcome(
  circuit: Circuit,
  isSuccess: boolean,
  nowMs: number,
  options: CircuitOptions,
): Circuit {
  const current = circuitAt(circuit, nowMs, options);
  switch (current.kind) {
    case "closed": {
      if (isSuccess) return CLOSED_CIRCUIT;
      const consecutiveFailures = current.consecutiveFailures + 1;
      return consecutiveFailures >= options.failureThreshold
        ? { kind: "open", openedAtMs: nowMs }
        : { kind: "closed", consecutiveFailures };
    }
    case "open":
      return current;
    case "half_open":
      return isSuccess ? CLOSED_CIRCUIT : { kind: "open", openedAtMs: nowMs };
    default: {
      const unreachable: never = current;
      return unreachable;
    }
  }
}
