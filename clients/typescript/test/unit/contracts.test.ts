import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { camelCase, expectedTsType, readCsContract, readTsContract } from "./contracts.js";

const contractsDir = fileURLToPath(new URL("../../../../src/Contracts", import.meta.url));
const typesFile = fileURLToPath(new URL("../../src/types.ts", import.meta.url));

/** Public records of src/Contracts that never cross the wire to a client, with the reason. */
const notOnTheWire: Record<string, string> = {
  CandleUpdate: "the ingest-to-engine channel item; clients get CandleMessage",
};

const cs = readCsContract(contractsDir);
const tsc = readTsContract(typesFile);

describe("the TypeScript types match src/Contracts", () => {
  it("finds the C# contract", () => {
    expect([...cs.records.keys()]).toEqual(expect.arrayContaining(["Signal", "SignalOutcome", "SubscribeResult", "CandleMessage"]));
  });

  it("has an interface for every public record of src/Contracts", () => {
    const missing = [...cs.records.keys()].filter((name) => !(name in notOnTheWire) && !tsc.interfaces.has(name));
    expect(missing, `add these to clients/typescript/src/types.ts (or to notOnTheWire with a reason): ${missing.join(", ")}`).toEqual([]);
  });

  for (const [record, members] of cs.records) {
    if (record in notOnTheWire) continue;
    it(`${record}: same fields, types and optionality`, () => {
      const fields = tsc.interfaces.get(record);
      expect(fields, `no TypeScript interface ${record}`).toBeDefined();
      const expected = new Map(members.map((m) => [camelCase(m.name), m]));
      const actual = new Map(fields!.map((f) => [f.name, f]));
      const missing = [...expected.keys()].filter((n) => !actual.has(n));
      const extra = [...actual.keys()].filter((n) => !expected.has(n));
      expect({ missing, extra }, `${record}: fields missing in TypeScript / extra in TypeScript`).toEqual({ missing: [], extra: [] });

      const mismatches: string[] = [];
      for (const [name, member] of expected) {
        const field = actual.get(name)!;
        const csType = member.type + (member.omittedWhenDefault ? " (omitted when default)" : "");
        const want = expectedTsType(member.type);
        want.nullable ||= member.omittedWhenDefault === true;
        const parts = field.type.split("|").map((p) => p.trim());
        const nullableInTs = field.optional || parts.includes("null");
        const core = parts.filter((p) => p !== "null" && p !== "undefined").join(" | ");
        if (core !== want.type) mismatches.push(`${name}: C# ${csType} should be ${want.type}, TypeScript says ${field.type}`);
        if (want.nullable && !nullableInTs) mismatches.push(`${name}: C# ${csType} may be null/absent; mark it optional`);
        if (!want.nullable && nullableInTs) mismatches.push(`${name}: C# ${csType} is always sent; TypeScript marks it optional`);
      }
      expect(mismatches).toEqual([]);
    });
  }

  // The hub's messages: what the MessagePack protocol carries under [DataMember] names, which must be the JSON names.
  const hubMessages = ["Signal", "ModelVote", "ClassProbabilities", "SignalOutcome", "SubscribeRequest", "SubscribeResult", "CandleMessage"];
  for (const record of hubMessages) {
    it(`${record}: every field has its MessagePack key, the JSON name`, () => {
      const members = cs.records.get(record);
      expect(members, `no C# record ${record}`).toBeDefined();
      const wrong = members!.filter((m) => m.messagePackName !== camelCase(m.name))
        .map((m) => `${m.name}: [DataMember(Name = "${camelCase(m.name)}")] expected, found ${m.messagePackName ?? "none"}`);
      expect(wrong).toEqual([]);
    });
  }

  it("has the enums' wire values", () => {
    for (const [name, values] of cs.enums) {
      expect(tsc.unions.get(name), `TypeScript union ${name}`).toEqual(values);
    }
    expect(cs.enums.get("SignalDirection")).toEqual(["long", "short"]);
    expect(cs.enums.get("OutcomeKind")).toEqual(["win", "loss", "expired"]);
  });

  it("has the Binance timeframe names", () => {
    expect(cs.timeframeNames.length).toBeGreaterThan(10);
    expect(tsc.unions.get("Timeframe")).toEqual(cs.timeframeNames);
    expect(tsc.arrays.get("TIMEFRAMES")).toEqual(cs.timeframeNames);
  });

  it("uses the hub's method and event names", () => {
    expect(cs.hubNames.size).toBeGreaterThan(0);
    expect(Object.fromEntries(tsc.constObjects.get("HubNames") ?? [])).toEqual(Object.fromEntries(cs.hubNames));
  });
});
