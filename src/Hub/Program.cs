using SignalStream.Hub.Hosting;

// A bare word is no setting (settings are --Key=value, --Key value or Key=value): the offline verbs live in src/Tools now.
if (args is [var first, ..] && !first.StartsWith('-') && !first.StartsWith('/') && !first.Contains('=', StringComparison.Ordinal))
{
    await Console.Error.WriteLineAsync($"'{first}' is not a setting of the server. The offline tools (replay, export-dataset) are signalstream-tools: dotnet run --project src/Tools -- --help");
    return 2;
}

try
{
    var app = SignalStreamHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (Exception exception)
{
    // A node that cannot start says why in one message and exits 1, rather than dumping an unhandled exception (134).
    return StartupFailure.Report(exception, Console.Error);
}
