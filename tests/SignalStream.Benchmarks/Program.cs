using BenchmarkDotNet.Running;
using SignalStream.Benchmarks.ReadModel;

// Runs the benchmark suites; pass BenchmarkDotNet switches, for example --filter '*KlineFrame*'.
// `readmodel …` runs the one-shot read-model measurements instead (ReadModel/ReadModelProbe.cs).
if (args.Length > 0 && args[0] == "readmodel")
{
    return await ReadModelProbe.RunAsync(args).ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(System.Reflection.Assembly.GetExecutingAssembly()).Run(args);
return 0;
