using System.Globalization;
using SignalStream.Contracts;
using SignalStream.Testing.FakeExchange;

// A fake Binance spot exchange for demos and load tests:
//   dotnet run --project tests/FakeExchange -- --urls http://127.0.0.1:9443 --symbols 500 --timeframes 1m,5m --speed 60
// Optional: --seed N, --faults P (per-frame fault probability), --ping-seconds N.
var options = new FakeExchangeOptions { Url = "http://127.0.0.1:9443", Speed = 60 };
for (var i = 0; i + 1 < args.Length; i += 2)
{
    var value = args[i + 1];
    switch (args[i])
    {
        case "--urls":
            options.Url = value.Split(';')[0];
            break;
        case "--symbols":
            options.Symbols = int.TryParse(value, out var count)
                ? FakeExchangeOptions.GenerateSymbols(count)
                : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            break;
        case "--timeframes":
            options.Timeframes = Timeframes.ParseList(value.Split(','), "--timeframes");
            break;
        case "--speed":
            options.Speed = double.Parse(value, CultureInfo.InvariantCulture);
            break;
        case "--seed":
            options.Seed = int.Parse(value, CultureInfo.InvariantCulture);
            break;
        case "--faults":
            options.Faults.WithFrameFaults(double.Parse(value, CultureInfo.InvariantCulture));
            break;
        case "--ping-seconds":
            options.PingInterval = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture));
            break;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]}. Options: --urls, --symbols, --timeframes, --speed, --seed, --faults, --ping-seconds.");
            return 2;
    }
}

if (options.Speed <= 0)
{
    Console.Error.WriteLine("--speed must be positive when running on its own (the market clock runs at speed x real time).");
    return 2;
}

await using var exchange = new FakeBinanceExchange(options);
await exchange.StartAsync();
Console.WriteLine($"Fake Binance: {options.Symbols.Count} symbols x {options.Timeframes.Count} timeframes at {options.Speed}x");
Console.WriteLine($"  Ingest:Binance:StreamUrl={exchange.StreamUrl}");
Console.WriteLine($"  Ingest:Binance:RestUrl={exchange.RestUrl}");
Console.WriteLine("Ctrl+C (or SIGTERM) stops it.");
var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.TrySetResult();
});
await stop.Task;
return 0;
