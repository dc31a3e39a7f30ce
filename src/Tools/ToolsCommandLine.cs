using System.CommandLine;
using System.CommandLine.Invocation;

namespace SignalStream.Tools;

/// <summary>
/// The command line of <c>signalstream-tools</c>: one command per offline verb, each with <c>--help</c>. A usage error
/// (an unknown command or option, a missing or bad value) prints what is wrong and where to read the options, and exits
/// with <see cref="UsageError"/>; nothing runs.
/// </summary>
internal static class ToolsCommandLine
{
    /// <summary>Exit code of a command line that does not parse (a run that fails exits with 1).</summary>
    public const int UsageError = 2;

    public static RootCommand Create() => new("SignalStream's offline tools: they read and write the event store and the models folder, never a running node's state.")
    {
        ReplayCommand.Create(),
        ExportDatasetCommand.Create(),
    };

    /// <summary>Parses <paramref name="args"/> and runs the command, writing to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static async Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var root = Create();
        var parsed = root.Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            var command = parsed.CommandResult.Command;
            var path = command == root ? "signalstream-tools" : $"signalstream-tools {command.Name}";
            foreach (var problem in parsed.Errors)
            {
                await error.WriteLineAsync($"{path}: {problem.Message}").ConfigureAwait(false);
            }

            await error.WriteLineAsync($"Run '{path} --help' for the options.").ConfigureAwait(false);
            return UsageError;
        }

        // No process-termination handling from the library: its default gives a command 2 s after Ctrl+C before it
        // returns, and a replay's drain (every emitted result committed) may need longer. The replay handles Ctrl+C itself.
        var invocation = new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null };
        return await parsed.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }
}
