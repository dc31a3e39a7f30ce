using BenchmarkDotNet.Running;

namespace SignalStream.Benchmarks;

/// <summary>
/// Runs the benchmark suites; pass BenchmarkDotNet switches, for example <c>--filter '*KlineFrame*'</c>. A named entry
/// point, not top-level statements: those would declare a global <c>Program</c> beside the server's (visible here for its
/// internals), which the compiler reports as a conflict (CS0436).
/// </summary>
internal static class BenchmarkProgram
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
