using System.Text;
using SignalStream.LoadTests.Clients;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Reporting;
using SignalStream.LoadTests.Scenarios;
using SignalStream.Testing;

namespace SignalStream.LoadTests;

/// <summary>
/// The harness's own logic checked without any server (<c>--self-check</c>, run by <c>scripts/test-load-smoke.sh</c>):
/// the capacity sweep's step rules, its ladder validation, the per-step latency window, the capacity line over several
/// targets, and how a client's ledger starts against a server without a start position (the peers). One <c>PASS</c>/<c>FAIL</c>
/// line per check, the smoke script's format; exit code 1 when any fails.
/// </summary>
internal static class SelfChecks
{
    private const double Bound = 50;

    public static int Run()
    {
        var failures = 0;
        foreach (var (name, check) in Checks())
        {
            var problem = check();
            Console.WriteLine(problem is null ? $"PASS self-check/{name}" : $"FAIL self-check/{name}: {problem}");
            failures += problem is null ? 0 : 1;
        }

        return failures == 0 ? 0 : 1;
    }

    // A call rather than a tuple literal: the formatter keeps a block lambda's closing brace on its parenthesis
    // in an argument list, not in a tuple.
    private static (string Name, Func<string?> Check) Check(string name, Func<string?> check) => (name, check);

    private static IEnumerable<(string Name, Func<string?> Check)> Checks()
    {
        yield return Check("capacity is the fastest step within the bound", () =>
        {
            List<SweepStep> steps = [Step(40, 4000, 3), Step(80, 8000, 12), Step(120, 12000, 70), Step(160, 16000, 45), Step(200, 20000, 400)];
            return Expect(SweepCapacity.Capacity(steps, Bound)?.Rate, 160.0);
        });
        yield return Check("a step with a gap, a duplicate, a lost client or a missing signal never counts", () =>
        {
            List<SweepStep> steps = [Step(40, 4000, 3), Step(80, 8000, 5, gaps: 1), Step(120, 12000, 5, duplicates: 2), Step(160, 16000, 5, missing: 7), Step(200, 20000, 5, lost: 1)];
            return Expect(SweepCapacity.Capacity(steps, Bound)?.Rate, 40.0);
        });
        yield return Check("a saturated or undrained step never counts, whatever its p99", () =>
        {
            List<SweepStep> steps = [Step(40, 4000, 3), Step(80, 8000, 5, delivered: 7000), Step(120, 12000, 5, drained: false)];
            return Expect(SweepCapacity.Capacity(steps, Bound)?.Rate, 40.0);
        });
        yield return Check("no step within the bound gives no capacity", () =>
            SweepCapacity.Capacity([Step(40, 4000, 51), Step(80, 8000, 90)], Bound) is null ? null : "a capacity was reported");
        yield return Check("the climb goes on after one miss and stops after two in a row", () =>
        {
            List<SweepStep> steps = [Step(40, 4000, 3), Step(80, 8000, 60)];
            if (SweepCapacity.StopReason(steps, Bound) is { } early)
            {
                return $"stopped after one miss: {early}";
            }

            steps.Add(Step(120, 12000, 20));
            steps.Add(Step(160, 16000, 70));
            if (SweepCapacity.StopReason(steps, Bound) is { } reset)
            {
                return $"a step within the bound did not reset the count: {reset}";
            }

            steps.Add(Step(200, 20000, 80));
            return SweepCapacity.StopReason(steps, Bound) is null ? "did not stop after two misses in a row" : null;
        });
        yield return Check("the climb stops at the first saturated or undrained step", () =>
        {
            if (SweepCapacity.StopReason([Step(40, 4000, 3), Step(80, 8000, 20, delivered: 7100)], Bound) is null)
            {
                return "went on after a step delivered 89 % of its offer";
            }

            return SweepCapacity.StopReason([Step(40, 4000, 3, drained: false)], Bound) is null ? "went on after a step that did not drain" : null;
        });
        yield return Check("refinement bisects between the capacity and the first miss above it, down to 5 %", () =>
        {
            List<SweepStep> steps = [Step(100, 10000, 8), Step(200, 20000, 30), Step(400, 40000, 300), Step(300, 30000, 20), Step(600, 60000, 900)];
            var first = SweepCapacity.NextRefinement(steps, Bound);
            steps.Add(Step(350, 35000, 60));
            var second = SweepCapacity.NextRefinement(steps, Bound);
            List<SweepStep> narrow = [Step(200, 20000, 30), Step(209, 20900, 70)];
            List<SweepStep> top = [Step(200, 20000, 30), Step(300, 30000, 40)];
            List<SweepStep> none = [Step(200, 20000, 60), Step(300, 30000, 70)];
            return first == 350 && second == 325 && SweepCapacity.NextRefinement(narrow, Bound) is null && SweepCapacity.NextRefinement(top, Bound) is null
                && SweepCapacity.NextRefinement(none, Bound) is null
                ? null
                : $"got {first}, {second}, {SweepCapacity.NextRefinement(narrow, Bound)}, {SweepCapacity.NextRefinement(top, Bound)}, {SweepCapacity.NextRefinement(none, Bound)}";
        });
        yield return Check("a capacity measured once is confirmed, and a failed confirmation moves it down", () =>
        {
            List<SweepStep> steps = [Step(100, 10000, 8), Step(200, 20000, 30), Step(300, 30000, 90)];
            var first = SweepCapacity.NextConfirmation(steps, Bound);
            steps.Add(Step(200, 20000, 75));
            var afterMiss = SweepCapacity.Capacity(steps, Bound)?.Rate;
            var second = SweepCapacity.NextConfirmation(steps, Bound);
            steps.Add(Step(100, 10000, 9));
            var done = SweepCapacity.NextConfirmation(steps, Bound);
            return first == 200 && afterMiss == 100 && second == 100 && done is null && SweepCapacity.Capacity(steps, Bound)?.Rate == 100
                ? null
                : $"got confirm {first}, capacity {afterMiss}, confirm {second}, then {done}";
        });
        yield return Check("after the climb, refinement goes first and a failed confirmation opens a new bracket", () =>
        {
            // The ladder's top counted, so nothing to refine: confirm it; its repeat misses, so refine below it.
            List<SweepStep> steps = [Step(600, 60000, 12), Step(800, 80000, 46)];
            var first = SweepCapacity.NextAfterClimb(steps, Bound, refinesLeft: 2, confirmsLeft: 1);
            steps.Add(Step(800, 80000, 141));
            var second = SweepCapacity.NextAfterClimb(steps, Bound, refinesLeft: 2, confirmsLeft: 0);
            var noBudget = SweepCapacity.NextAfterClimb(steps, Bound, refinesLeft: 0, confirmsLeft: 0);
            return first == (800, false) && second == (700, true) && noBudget is null ? null : $"got {first}, {second}, {noBudget}";
        });
        yield return Check("a capacity at the ladder's top is a floor", () =>
        {
            var sweep = new SweepResult { Target = Targets.SignalStream, P99BoundMs = Bound };
            sweep.Steps.AddRange([Step(40, 4000, 3), Step(80, 8000, 9)]);
            var top = sweep.CapacityIsLowerBound;
            sweep.Steps.Add(Step(120, 12000, 99));
            var missedAbove = sweep.CapacityIsLowerBound;
            sweep.Steps.Add(Step(100, 10000, 30)); // a refinement that counts, measured last, below a miss
            return top && !missedAbove && !sweep.CapacityIsLowerBound
                ? null
                : $"lower bound flags were {top}, {missedAbove}, {sweep.CapacityIsLowerBound}";
        });
        yield return Check("the capacity line gives every server's capacity and SignalStream's ratio to each peer", () =>
        {
            var ours = new SweepResult { Target = Targets.SignalStream, P99BoundMs = Bound };
            ours.Steps.AddRange([Step(40, 40000, 8), Step(80, 80000, 30), Step(120, 120000, 95), Step(160, 150000, 300)]);
            var signalR = new SweepResult { Target = Targets.SignalR, P99BoundMs = Bound };
            signalR.Steps.AddRange([Step(40, 40000, 9), Step(60, 50000, 20), Step(80, 60000, 400)]);
            var socketIo = new SweepResult { Target = Targets.SocketIo, P99BoundMs = Bound };
            socketIo.Steps.AddRange([Step(40, 40000, 5), Step(80, 80000, 2000), Step(120, 90000, 9000)]);
            var line = ReportWriter.CapacityLine([ours, signalR, socketIo], Bound);
            string[] expected = ["SignalStream 80,000/s", "SignalR peer 50,000/s", "Socket.IO peer 40,000/s",
                "SignalStream / SignalR peer 1.60x", "SignalStream / Socket.IO peer 2.00x"];
            return expected.All(e => line.Contains(e, StringComparison.Ordinal)) && !line.Contains("floor", StringComparison.Ordinal)
                ? null
                : $"got '{line}'";
        });
        yield return Check("a peer with no step within the bound has no ratio, the others keep theirs", () =>
        {
            var ours = new SweepResult { Target = Targets.SignalStream, P99BoundMs = Bound };
            ours.Steps.AddRange([Step(40, 40000, 8), Step(80, 80000, 90)]);
            var signalR = new SweepResult { Target = Targets.SignalR, P99BoundMs = Bound };
            signalR.Steps.AddRange([Step(40, 40000, 60), Step(80, 60000, 400)]);
            var socketIo = new SweepResult { Target = Targets.SocketIo, P99BoundMs = Bound };
            socketIo.Steps.AddRange([Step(40, 20000, 5), Step(80, 30000, 2000)]);
            var line = ReportWriter.CapacityLine([ours, signalR, socketIo], Bound);
            return line.Contains("SignalR peer none within the bound", StringComparison.Ordinal)
                && line.Contains("SignalStream / SignalR peer n/a", StringComparison.Ordinal)
                && line.Contains("SignalStream / Socket.IO peer 2.00x", StringComparison.Ordinal)
                ? null
                : $"got '{line}'";
        });
        yield return Check("a ladder must climb, hold positive rates and not be empty", () =>
        {
            foreach (var bad in new[] { "80,40", "40,40", "0,40", "-5", "40,abc", ",", "" })
            {
                var errors = new List<string>();
                LoadTestOptions.Ladder(bad, "--sweep-rates", errors);
                if (errors.Count != 1 || !errors[0].Contains("--sweep-rates", StringComparison.Ordinal))
                {
                    return $"'{bad}' gave {errors.Count} errors: {string.Join(" | ", errors)}";
                }
            }

            var ok = new List<string>();
            var rates = LoadTestOptions.Ladder("10, 20.5,400", "--sweep-rates", ok);
            return ok.Count == 0 && rates.SequenceEqual([10, 20.5, 400]) ? null : $"'10, 20.5,400' gave [{string.Join(',', rates)}] and {string.Join(" | ", ok)}";
        });
        yield return Check("a p99 bound of zero or less is refused with the switch's name", () =>
        {
            foreach (var bad in new[] { "0", "-1", "fast" })
            {
                var (_, errors) = LoadTestOptions.Parse(["--targets", "signalstream", "--p99-bound-ms", bad], Environment.CurrentDirectory);
                if (!errors.Any(e => e.StartsWith("--p99-bound-ms", StringComparison.Ordinal)))
                {
                    return $"'{bad}' was accepted";
                }
            }

            return null;
        });
        yield return Check("a peer's subscription starts at its first arrival, also when it arrived before the answer", () =>
        {
            var late = new SeqLedger("LT0001USDT");
            late.AwaitAnswer();
            late.StartAtFirstArrival();
            late.Observe(41);
            late.Observe(42);
            var early = new SeqLedger("LT0001USDT");
            early.AwaitAnswer();
            early.Observe(17);
            early.Observe(18);
            early.StartAtFirstArrival();
            early.Observe(19);
            return (late.Last, late.Gaps, late.Received, early.Last, early.Gaps, early.Received) == (42, 0, 2, 19, 0, 3)
                ? null
                : $"late: last {late.Last}, gaps {late.Gaps}, received {late.Received}; early: last {early.Last}, gaps {early.Gaps}, received {early.Received}";
        });
        yield return Check("a peer's re-join keeps counting: what it missed is a gap, what arrived before the answer is kept", () =>
        {
            var ledger = new SeqLedger("LT0001USDT");
            ledger.AwaitAnswer();
            ledger.StartAtFirstArrival();
            ledger.Observe(1);
            ledger.Observe(2);
            ledger.AwaitAnswer(); // the reconnect's Subscribe (the SignalR client sends afterSeq 2; the peer ignores it)
            ledger.Observe(6);
            ledger.StartAtFirstArrival();
            ledger.Observe(7);
            return (ledger.Last, ledger.Gaps, ledger.Duplicates, ledger.MissingUpTo(7)) == (7, 3, 0, 0)
                ? null
                : $"last {ledger.Last}, gaps {ledger.Gaps}, duplicates {ledger.Duplicates}, missing {ledger.MissingUpTo(7)}";
        });
        yield return Check("a SignalR Subscribe answer without latestSeq is a peer's, with one SignalStream's", () =>
        {
            var peer = AnswerSubscribe("""{"type":3,"invocationId":"0","result":{"symbol":"LT0001USDT"}}""", seqAfterAnswer: 900);
            var ours = AnswerSubscribe("""{"type":3,"invocationId":"0","result":{"symbol":"LT0001USDT","latestSeq":899,"recovered":false,"signals":[]}}""", seqAfterAnswer: 900);
            return (peer.Last, peer.Gaps, ours.Last, ours.Gaps) == (900, 0, 900, 0)
                ? null
                : $"peer answer: last {peer.Last}, gaps {peer.Gaps}; SignalStream answer: last {ours.Last}, gaps {ours.Gaps}";
        });
        yield return Check("a MessagePack client reads SignalStream's Subscribe answer and signals as the server writes them", () =>
        {
            var client = new SignalRMessagePackClient(0, ["LT0001USDT"], new ClientStats(), slow: false, ClientMeasurement.FromExchangeTime);
            client.SubscribeWithoutSocket(0);
            var protocol = new Microsoft.AspNetCore.SignalR.Protocol.MessagePackHubProtocol();
            var answer = new System.Buffers.ArrayBufferWriter<byte>();
            protocol.WriteMessage(Microsoft.AspNetCore.SignalR.Protocol.CompletionMessage.WithResult(
                "0", new Contracts.SubscribeResult("LT0001USDT", ["1m"], 5, true, [MessagePackSignal(5)])), answer);
            client.ReceiveWithoutSocket(answer.WrittenSpan);
            var live = new System.Buffers.ArrayBufferWriter<byte>();
            protocol.WriteMessage(new Microsoft.AspNetCore.SignalR.Protocol.InvocationMessage("signal", [MessagePackSignal(6)]), live);
            protocol.WriteMessage(Microsoft.AspNetCore.SignalR.Protocol.PingMessage.Instance, live);
            protocol.WriteMessage(new Microsoft.AspNetCore.SignalR.Protocol.InvocationMessage("signal", [MessagePackSignal(7)]), live);
            client.ReceiveWithoutSocket(live.WrittenSpan);
            var ledger = client.Ledgers[0];
            return (ledger.StartSeq, ledger.Last, ledger.Gaps, ledger.Duplicates) == (5, 7, 0, 0)
                ? null
                : $"started at {ledger.StartSeq}, last {ledger.Last}, gaps {ledger.Gaps}, duplicates {ledger.Duplicates}";
        });
        yield return Check("a step's latency window holds only what was recorded during the step", () =>
        {
            var histogram = new LatencyHistogram();
            for (var i = 0; i < 1000; i++)
            {
                histogram.Record(1_000, i);
            }

            var before = histogram.Summarize();
            for (var i = 0; i < 100; i++)
            {
                histogram.Record(200_000, i);
            }

            var step = histogram.Summarize().Since(before);
            return step.Count == 100 && step.P50 is > 190 and < 210 ? null : $"count {step.Count}, p50 {step.P50} ms";
        });
        yield return Check("late deliveries are told apart by when they arrived: a stall is one slice, not the whole window", () =>
        {
            var late = new LateDeliveries(50);
            const long start = 1_700_000_000_000_000;
            for (var i = 0; i < 300; i++)
            {
                late.Record(120_000, start + 2_050_000 + i); // a stall 2 s in: 300 late in one 100 ms slice
            }

            late.Record(60_000, start + 7_500_000); // one slow connection later on
            late.Record(10_000, start + 8_000_000); // on time: not counted
            var text = late.Describe(start, start + 10_000_000);
            return text.StartsWith("301 deliveries later than 50 ms, in 2 of 100 100-ms slices", StringComparison.Ordinal) && text.Contains("2.0 s: 300", StringComparison.Ordinal)
                ? null
                : text;
        });
    }

    private static Contracts.Signal MessagePackSignal(long seq)
    {
        var signal = TestSignals.Signal("LT0001USDT", seq);
        return signal with { PublishedAt = signal.ExchangeTime + 2 };
    }

    /// <summary>A SignalR client's ledger after its Subscribe got <paramref name="completion"/> and then one signal with
    /// seq <paramref name="seqAfterAnswer"/> arrived.</summary>
    private static SeqLedger AnswerSubscribe(string completion, long seqAfterAnswer)
    {
        var client = new SignalRClient(0, ["LT0001USDT"], new ClientStats(), slow: false, ClientMeasurement.FromExchangeTime);
        client.SubscribeWithoutSocket(0);
        client.ReceiveWithoutSocket(Encoding.UTF8.GetBytes(completion + "\u001e"));
        client.ReceiveWithoutSocket(Encoding.UTF8.GetBytes(
            $"{{\"type\":1,\"target\":\"signal\",\"arguments\":[{{\"seq\":{seqAfterAnswer},\"symbol\":\"LT0001USDT\",\"exchangeTime\":1}}]}}\u001e"));
        return client.Ledgers[0];
    }

    /// <summary>A measured step as the sweep sees it; offered/s equals <paramref name="offered"/>, delivered/s the offer
    /// unless given.</summary>
    private static SweepStep Step(double rate, double offered, double p99Ms, double? delivered = null, bool drained = true,
        long gaps = 0, long duplicates = 0, long missing = 0, int lost = 0) => new()
        {
            Rate = rate,
            Drained = drained,
            Result = new ScenarioResult
            {
                Scenario = $"sweep {rate}/s",
                Target = "signalstream",
                OfferedPerSecond = offered,
                DeliveredPerSecond = delivered ?? offered,
                Delivered = (long)(delivered ?? offered),
                LatencyCount = (long)offered,
                P99Ms = p99Ms,
                Gaps = gaps,
                Duplicates = duplicates,
                Missing = missing,
                ClientsLost = lost,
            },
        };

    private static string? Expect(double? actual, double expected) => actual == expected ? null : $"expected the {expected}/s step, got {actual?.ToString() ?? "none"}";
}
