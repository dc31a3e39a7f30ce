using SignalStream.Hub.Cli;
using SignalStream.Hub.Hosting;

if (CommandLineVerbs.TryGet(args, out var verb))
{
    return await verb(args[1..]);
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
