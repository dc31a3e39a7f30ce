using System.Diagnostics;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>Finds and runs the Debian tools the observability checks need (promtool, prometheus).</summary>
internal static class ExternalTool
{
    /// <summary>The full path of <paramref name="name"/>; fails the test with how to install it when it is missing.</summary>
    public static string Require(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"'{name}' is not on PATH. Install Debian's Prometheus package (apt-get install -y prometheus; it ships promtool); test.sh does this.");
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string? standardInput = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, (await output) + (await error));
    }

    /// <summary>The repository root (where SignalStream.sln is), for the deploy files.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "SignalStream.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"SignalStream.sln not found above {AppContext.BaseDirectory}");
    }
}
