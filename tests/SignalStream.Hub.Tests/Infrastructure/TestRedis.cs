using System.Diagnostics;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Stops and starts the real Redis of the test services (<see cref="TestServices.Redis"/>).</summary>
internal static class TestRedis
{
    private static int Port => TestServices.RedisPort;

    /// <summary>Stops Redis without saving (every subscriber and publisher loses its connection).</summary>
    public static async Task StopAsync()
    {
        await RunAsync("redis-cli", $"-p {Port} shutdown nosave", allowFailure: true);
        for (var i = 0; i < 100 && await PingsAsync(); i++)
        {
            await Task.Delay(50);
        }
    }

    /// <summary>Starts Redis again on the same port (and pid file, so scripts/test-services.sh stop still finds it).</summary>
    public static async Task StartAsync()
    {
        var dir = Path.Combine(TestServices.Directory, "redis");
        await RunAsync("redis-server",
            $"--port {Port} --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --dir {dir} --pidfile {Path.Combine(dir, "redis.pid")}");
        for (var i = 0; i < 100 && !await PingsAsync(); i++)
        {
            await Task.Delay(50);
        }
    }

    private static async Task<bool> PingsAsync() => (await RunAsync("redis-cli", $"-p {Port} ping", allowFailure: true)).Contains("PONG");

    private static async Task<string> RunAsync(string file, string arguments, bool allowFailure = false)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{file} {arguments} failed: {await process.StandardError.ReadToEndAsync()}");
        }

        return output;
    }
}
