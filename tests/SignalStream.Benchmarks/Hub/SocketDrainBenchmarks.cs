using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using SignalStream.Hub.Transport;

namespace SignalStream.Benchmarks.Hub;

/// <summary>
/// A backlog leaving for a client that was not reading: <see cref="Frames"/> frames of <see cref="FrameBytes"/> are offered
/// to a <see cref="SocketFrameOutput"/> on a real loopback socket while its client does not read (the kernel's buffers
/// take the first ones, the rest wait in the output's queue), then the client reads them all. <see cref="MaxGathered"/>
/// 1 is a <c>send()</c> a frame, as before vectored sends; more gathers that many waiting frames into one
/// <c>sendmsg()</c>. The operation ends when the client has read every byte.
/// </summary>
/// <remarks>
/// Allocated bytes are process-wide (the client's reads included); the frames are built once in the setup. The sends
/// an operation made (<see cref="SocketFrameOutput.SendCalls"/>) are printed at the end of each run: "sends per
/// operation".
/// </remarks>
[MemoryDiagnoser]
public class SocketDrainBenchmarks
{
    private const int KernelBuffer = 64 * 1024;
    private readonly SemaphoreSlim _go = new(0);
    private readonly SemaphoreSlim _done = new(0);
    private Socket _server = null!;
    private Socket _client = null!;
    private SocketFrameOutput _output = null!;
    private ReadOnlyMemory<byte>[] _frames = [];
    private Task _reader = Task.CompletedTask;
    private long _operations;
    private volatile bool _stopping;

    [Params(2_000)]
    public int Frames { get; set; }

    [Params(512)]
    public int FrameBytes { get; set; }

    [Params(1, 16, 256, 1024)]
    public int MaxGathered { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = KernelBuffer };
        await _client.ConnectAsync(listener.LocalEndPoint!);
        _server = await listener.AcceptAsync();
        _server.SendBufferSize = KernelBuffer;
        _server.NoDelay = true;
        _output = new SocketFrameOutput(_server, TimeProvider.System, maxGathered: MaxGathered);

        // Distinct arrays, as fan-out frames of different messages are: each one is pinned on its own.
        _frames = new ReadOnlyMemory<byte>[Frames];
        for (var i = 0; i < Frames; i++)
        {
            var frame = new byte[FrameBytes];
            frame[0] = 0x81;
            frame[1] = 126;
            frame[2] = (byte)((FrameBytes - 4) >> 8);
            frame[3] = (byte)(FrameBytes - 4);
            _frames[i] = frame;
        }

        _reader = ReadAsync((long)Frames * FrameBytes);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        Console.WriteLine($"// sends per operation (MaxGathered={MaxGathered}): {(double)_output.SendCalls / Math.Max(1, _operations):F1} for {Frames} frames");
        _stopping = true;
        _go.Release();
        _client.Dispose();
        _server.Dispose();
        await _reader.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [Benchmark]
    public async Task BacklogToAClientThatReadsAgain()
    {
        _operations++;
        foreach (var frame in _frames)
        {
            _output.Offer(frame, int.MaxValue);
        }

        _go.Release();
        await _done.WaitAsync();
        await _output.WhenIdleAsync();
    }

    private async Task ReadAsync(long bytesPerOperation)
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                await _go.WaitAsync();
                if (_stopping)
                {
                    return;
                }

                for (var left = bytesPerOperation; left > 0;)
                {
                    var read = await _client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    left -= read;
                }

                _done.Release();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Benchmark finished.
        }
    }
}
