namespace SignalStream.Hub.Cli;

internal static class ReplayCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine("This verb is not available in this build.");
        _ = args;
        return Task.FromResult(2);
    }
}
