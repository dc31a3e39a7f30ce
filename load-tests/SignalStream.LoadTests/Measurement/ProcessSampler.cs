namespace SignalStream.LoadTests.Measurement;

/// <summary>CPU and resident memory of a process from <c>/proc/&lt;pid&gt;</c> (Linux), sampled by the harness.</summary>
internal sealed class ProcessSampler
{
    private const double TicksPerSecond = 100; // USER_HZ is 100 on every Linux the harness targets
    private readonly int _pid;
    private long _lastTicks;
    private long _lastWall;

    public ProcessSampler(int pid, string name)
    {
        _pid = pid;
        Name = name;
        _lastTicks = ReadCpuTicks();
        _lastWall = Environment.TickCount64;
    }

    public string Name { get; }

    public double PeakRssMb { get; private set; }

    public double LastRssMb { get; private set; }

    public List<double> CpuPercentSamples { get; } = [];

    /// <summary>Starts the next CPU interval now without recording one: what the process spent before (starting,
    /// accepting thousands of connections) stays out of the averages of the measured window.</summary>
    public void Restart()
    {
        _lastTicks = ReadCpuTicks();
        _lastWall = Environment.TickCount64;
    }

    /// <summary>Takes one sample: CPU percent of one core since the previous sample, and RSS.</summary>
    public void Sample()
    {
        var ticks = ReadCpuTicks();
        var wall = Environment.TickCount64;
        if (ticks >= 0 && wall > _lastWall)
        {
            var cpu = (ticks - _lastTicks) / TicksPerSecond / ((wall - _lastWall) / 1000.0) * 100;
            CpuPercentSamples.Add(Math.Round(cpu, 1));
            _lastTicks = ticks;
            _lastWall = wall;
        }

        var rss = ReadRssMb(_pid);
        if (rss > 0)
        {
            LastRssMb = rss;
            PeakRssMb = Math.Max(PeakRssMb, rss);
        }
    }

    public double AverageCpuPercent => CpuPercentSamples.Count == 0 ? 0 : CpuPercentSamples.Average();

    /// <summary>The machine's 1, 5 and 15 minute load averages from <c>/proc/loadavg</c>, or "?".</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static double ReadRssMb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1]) / 1024.0;
                }
            }
        }
        catch (IOException)
        {
            // The process exited between samples: no reading this time.
        }
        catch (UnauthorizedAccessException)
        {
            // Not our process to read; reported as 0.
        }

        return 0;
    }

    private long ReadCpuTicks()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{_pid}/stat");
            // Fields after the command name (which may hold spaces) start after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11]) + long.Parse(fields[12]); // utime + stime (fields 14 and 15)
        }
        catch (IOException)
        {
            return -1; // exited
        }
    }
}
