using SignalStream.Hub.Hosting;

// A bare word is no setting (settings are --Key=value, --Key value or Key=value): the offline verbs live in src/Tools now.
if (args is [var first, ..] && !first.StartsWith('-') && !first.StartsWith('/') && !first.Contains('=', StringComparison.Ordinal))
{
    await Console.Error.WriteLineAsync($"'{first}' is not a setting of the server. The offline tools (replay, export-dataset) are signalstream-tools: dotnet run --project src/Tools -- --help");
    return 2;
}

var app = SignalStreamHost.Build(args);
await app.RunAsync();
return 0;
