using BenchmarkDotNet.Running;

// Runs the benchmark suites; pass BenchmarkDotNet switches, for example --filter '*KlineFrame*'.
BenchmarkSwitcher.FromAssembly(System.Reflection.Assembly.GetExecutingAssembly()).Run(args);
