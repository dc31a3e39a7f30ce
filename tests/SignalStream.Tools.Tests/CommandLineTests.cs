using System.Diagnostics;
using System.Text.Json;

namespace SignalStream.Tools.Tests;

/// <summary>
/// The command line of <c>signalstream-tools</c>: every command answers <c>--help</c> with its options, and a command line
/// that does not parse exits with 2, says what is wrong and where the options are, and runs nothing.
/// </summary>
public sealed class CommandLineTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(2);
    private readonly string _folder = Directory.CreateTempSubdirectory("signalstream-tools-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("", "replay", "export-dataset")]
    [InlineData("replay", "--into", "--storage", "--path", "--out", "--postgres", "--symbols", "--models", "--set", "--report")]
    [InlineData("export-dataset", "--source", "--input", "--symbol", "--timeframe", "--symbols", "--timeframes", "--candles", "--seed", "--horizon", "--flat-band", "--out", "--candles-out")]
    public async Task EveryCommandAnswersHelpWithItsOptions(string command, params string[] listed)
    {
        var (exit, output, error) = await RunAsync(command.Length == 0 ? ["--help"] : [command, "--help"]);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        foreach (var name in listed)
        {
            Assert.Contains(name, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(new string[0], "signalstream-tools: Required command was not provided.")]
    [InlineData(new[] { "bogus" }, "signalstream-tools: Unrecognized command or argument 'bogus'.")]
    public async Task AMissingOrUnknownCommandIsAUsageError(string[] args, string expected)
    {
        var (exit, output, error) = await RunAsync(args);

        Assert.Equal(ToolsCommandLine.UsageError, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("Run 'signalstream-tools --help' for the options.", error, StringComparison.Ordinal);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData(new[] { "--candles", "0" }, "--candles '0' must be a whole number from 1 to 10000000.")]
    [InlineData(new[] { "--candles", "ten" }, "--candles 'ten' must be a whole number from 1 to 10000000.")]
    [InlineData(new[] { "--seed", "4.2" }, "--seed '4.2' must be a whole number.")]
    [InlineData(new[] { "--horizon", "1001" }, "--horizon '1001' must be a whole number of candles from 1 to 1000.")]
    [InlineData(new[] { "--flat-band", "10" }, "--flat-band '10' must be a number above 0 and below 10.")]
    [InlineData(new[] { "--timeframe", "7x" }, "--timeframe '7x' is not a Binance interval name")]
    [InlineData(new[] { "--timeframes", "1m,7x" }, "--timeframes '1m,7x' is not a list of Binance interval names")]
    [InlineData(new[] { "--symbols", "BTCUSDT,X" }, "--symbols 'BTCUSDT,X' is not a list of symbols")]
    [InlineData(new[] { "--source", "csv" }, "--source 'csv' is not 'simulated' or 'replay'.")]
    [InlineData(new[] { "--source", "replay" }, "--source replay needs --input PATH")]
    [InlineData(new[] { "--input", "/nonexistent/candles.jsonl" }, "--input '/nonexistent/candles.jsonl' does not exist.")]
    [InlineData(new[] { "--candles" }, "Required argument missing for option: '--candles'.")]
    [InlineData(new[] { "--rows", "5" }, "Unrecognized command or argument '--rows'.")]
    public async Task ExportDatasetUsageErrorsSayWhatIsWrongAndWriteNothing(string[] args, string expected)
    {
        var dataset = Path.Combine(_folder, "dataset.csv");

        var (exit, output, error) = await RunAsync(["export-dataset", "--out", dataset, .. args]);

        Assert.Equal(ToolsCommandLine.UsageError, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("Run 'signalstream-tools export-dataset --help' for the options.", error, StringComparison.Ordinal);
        Assert.Equal("", output);
        Assert.False(File.Exists(dataset));
    }

    [Fact]
    public async Task RecordedCandlesAndTheSimulatorAreExclusive()
    {
        var recording = Path.Combine(_folder, "candles.jsonl");
        await File.WriteAllTextAsync(recording, "");

        var (exit, _, error) = await RunAsync(["export-dataset", "--source", "simulated", "--input", recording]);

        Assert.Equal(ToolsCommandLine.UsageError, exit);
        Assert.Contains("--input reads recorded candles; drop it or use --source replay.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportDatasetWritesTheDatasetItsOptionsAskFor()
    {
        var dataset = Path.Combine(_folder, "out", "dataset.csv");
        var candles = Path.Combine(_folder, "candles");

        var (exit, output, error) = await RunAsync(
            ["export-dataset", "--symbols", "btcusdt", "--timeframes", "1h", "--candles", "400", "--seed", "7", "--horizon", "6", "--flat-band", "0.5", "--out", dataset, "--candles-out", candles]);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Contains("export-dataset: 400 candles (simulated (seed 7): BTCUSDT x 1h, 400 candles per stream)", output, StringComparison.Ordinal);
        Assert.True(File.ReadLines(dataset).Count() > 100);
        Assert.Equal(["BTCUSDT-1h-export.csv"], Directory.EnumerateFiles(candles).Select(Path.GetFileName));
        using var meta = JsonDocument.Parse(await File.ReadAllTextAsync(dataset + ".meta.json"));
        Assert.Equal(7, meta.RootElement.GetProperty("seed").GetInt64());
        Assert.Equal(6, meta.RootElement.GetProperty("horizon").GetInt32());
        Assert.Equal(0.5, meta.RootElement.GetProperty("flatBand").GetDouble());
        Assert.Equal(["1h"], meta.RootElement.GetProperty("timeframes").EnumerateArray().Select(t => t.GetString()));
    }

    /// <summary>The executable built next to these tests, as a user runs it: its entry point is this command line.</summary>
    [Fact]
    public async Task TheExecutableAnswersHelpAndRefusesABadCommandLine()
    {
        var (helpExit, help, _) = await RunProcessAsync("replay", "--help");
        Assert.Equal(0, helpExit);
        Assert.Contains("--into <NAMESPACE> (REQUIRED)", help, StringComparison.Ordinal);

        var (badExit, _, error) = await RunProcessAsync("replay", "--into", "a/b");
        Assert.Equal(ToolsCommandLine.UsageError, badExit);
        Assert.Contains("signalstream-tools replay: Stream namespace 'a/b' is not valid", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await ToolsCommandLine.InvokeAsync(args, output, error).WaitAsync(Wait);
        return (exit, output.ToString(), error.ToString());
    }

    private static async Task<(int Exit, string Output, string Error)> RunProcessAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "signalstream-tools.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Wait);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await output, await error);
    }
}
