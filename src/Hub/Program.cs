using SignalStream.Hub.Cli;
using SignalStream.Hub.Hosting;

if (CommandLineVerbs.TryGet(args, out var verb))
{
    return await verb(args[1..]);
}

var app = SignalStreamHost.Build(args);
await app.RunAsync();
return 0;
