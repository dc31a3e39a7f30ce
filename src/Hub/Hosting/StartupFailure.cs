using Microsoft.Extensions.Options;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// What the process prints, and exits with, when the node cannot start: one plain message for the failures an
/// operator causes and fixes (settings, a journal folder in use, a port taken), the whole exception for anything else.
/// </summary>
internal static class StartupFailure
{
    /// <summary>The exit code of a node that could not start.</summary>
    public const int ExitCode = 1;

    public static int Report(Exception exception, TextWriter error)
    {
        if (exception is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            exception = aggregate.InnerException!;
        }

        switch (exception)
        {
            case OptionsValidationException options:
                error.WriteLine("SignalStream cannot start: fix these settings (appsettings.json, environment variables or --Key=Value):");
                foreach (var failure in options.Failures)
                {
                    error.WriteLine("  - " + failure);
                }

                break;
            case IOException or InvalidOperationException or UnauthorizedAccessException or FormatException:
                // The configuration binder's "failed to convert" carries the reason (and the fix) in its inner exception.
                error.WriteLine("SignalStream cannot start: " + exception.Message
                    + (exception.InnerException is FormatException reason ? " " + reason.Message : ""));
                break;
            default:
                error.WriteLine("SignalStream stopped on an unexpected error: " + exception);
                break;
        }

        return ExitCode;
    }
}
