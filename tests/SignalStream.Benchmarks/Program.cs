using BenchmarkDotNet.Running;

// Runs the benchmark suites; pass BenchmarkDotNet switches, for example --filter '*KlineFrame*'.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
