using SignalStream.Tools;

if (CommandLineVerbs.TryGet(args, out var verb))
{
    return await verb(args[1..]);
}

await Console.Error.WriteLineAsync("Usage: signalstream-tools replay|export-dataset [options] (--help for each)");
return 2;
