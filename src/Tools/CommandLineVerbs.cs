namespace SignalStream.Tools;

/// <summary>The offline verbs of signalstream-tools (<c>dotnet run --project src/Tools -- VERB …</c>).</summary>
internal static class CommandLineVerbs
{
    private static readonly Dictionary<string, Func<string[], Task<int>>> s_verbs = new(StringComparer.Ordinal)
    {
        ["export-dataset"] = ExportDatasetCommand.RunAsync,
        ["replay"] = ReplayCommand.RunAsync,
    };

    public static bool TryGet(string[] args, out Func<string[], Task<int>> verb)
    {
        verb = null!;
        return args.Length > 0 && s_verbs.TryGetValue(args[0], out verb!);
    }
}
