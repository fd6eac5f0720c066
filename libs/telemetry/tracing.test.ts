import { describe, expect, it } from "vitest";
import { otlpProtocolOf, TelemetrySettingError } from "./tracing.js";

describe("the OTLP protocol", () => {
  it("is http/protobuf unless a variable says otherwise, the traces-only one first", () => {
    expect(otlpProtocolOf({})).toBe("http/protobuf");
    expect(otlpProtocolOf({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toBe("http/json");
    expect(
      otlpProtocolOf({
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      }),
    ).toBe("http/protobuf");
  });

  it("refuses what is not shipped, naming the variable that said it", () => {
    const refused = () => otlpProtocolOf({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" });
    expect(refused).toThrow(TelemetrySettingError);
    expect(refused).toThrow(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" is not supported/);
  });
});
