using BenchmarkDotNet.Running;
using SignalStream.Benchmarks.Events;
using SignalStream.Benchmarks.ReadModel;

namespace SignalStream.Benchmarks;

/// <summary>
/// Runs the benchmark suites; pass BenchmarkDotNet switches, for example <c>--filter '*KlineFrame*'</c>. A named entry
/// point, not top-level statements: those would declare a global <c>Program</c> beside the server's (visible here for its
/// internals), which the compiler reports as a conflict (CS0436). <c>readmodel …</c> runs the one-shot read-model
/// measurements instead (ReadModel/ReadModelProbe.cs), <c>journal-memory [events]</c> the file journal's memory per
/// event (Events/FileJournalMemoryProbe.cs), <c>journal-rollover [streams] [segment MiB] [roll-overs]</c> what an append that rolls
/// the journal over to a new segment costs (Events/FileJournalRollOverProbe.cs), <c>candle-seek [events] [file|postgres] [outage one in]</c> what a candle page's seek costs
/// (Events/CandleSeekProbe.cs).
/// </summary>
internal static class BenchmarkProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "readmodel")
        {
            return await ReadModelProbe.RunAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "journal-memory")
        {
            return await FileJournalMemoryProbe.RunAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "journal-rollover")
        {
            return await FileJournalRollOverProbe.RunAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "candle-seek")
        {
            return await CandleSeekProbe.RunAsync(args).ConfigureAwait(false);
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
