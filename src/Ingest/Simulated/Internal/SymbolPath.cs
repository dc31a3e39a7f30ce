namespace SignalStream.Ingest.Simulated.Internal;

/// <summary>One fine-grained step of a symbol's path, in integer ticks and volume units (exact to aggregate).</summary>
internal struct StepTick
{
    public long Open;
    public long High;
    public long Low;
    public long Close;
    public long Volume;
    public long TakerBuy;
    public long Trades;
}

/// <summary>
/// The price and volume process of one symbol: GARCH(1,1) volatility clustering on top of a slow log-volatility
/// factor, Student-t(4) shocks, Markov trend regimes, weak mean reversion to the initial level, intraday and weekend
/// seasonality, and volume that rises with the size of the move.
/// </summary>
internal sealed class SymbolPath
{
    private const double YearMs = 365.25 * 86_400_000;
    private const double GarchAlpha = 0.08;
    private const double GarchBeta = 0.90;
    private const double SlowVolatilityOfVolatility = 0.35;
    private const double TrendStrength = 0.04;          // drift per step, in units of the step's sigma
    private const double MeanRegimeMs = 8 * 3_600_000;

    private readonly SimulationRandom _random;
    private readonly double _baseSigma;
    private readonly double _slowPersistence;
    private readonly double _slowInnovation;
    private readonly double _regimeSwitchProbability;
    private readonly double _meanReversion;
    private readonly double _tick;
    private readonly double _unitsPerBase;
    private readonly double _notionalPerStep;
    private readonly double _logInitial;

    private double _logPrice;
    private double _garch = 1;
    private double _lastShock;
    private double _slow;
    private int _regime;
    private long _lastClose;

    public SymbolPath(SymbolProfile profile, ulong seed, long stepMs)
    {
        Profile = profile;
        _random = new SimulationRandom(seed ^ SimulationRandom.StableHash(profile.Symbol));
        _baseSigma = profile.AnnualVolatility * Math.Sqrt(stepMs / YearMs);
        _slowPersistence = Math.Exp(-stepMs / (2.0 * 86_400_000));
        _slowInnovation = SlowVolatilityOfVolatility * Math.Sqrt(1 - (_slowPersistence * _slowPersistence));
        _regimeSwitchProbability = Math.Min(1, stepMs / MeanRegimeMs);
        _meanReversion = Math.Min(1, stepMs / (180.0 * 86_400_000));
        _tick = Math.Pow(10, -profile.PriceScale);
        _unitsPerBase = Math.Pow(10, profile.VolumeScale);
        _notionalPerStep = profile.NotionalPerMinute * stepMs / 60_000.0;
        _logInitial = Math.Log(profile.InitialPrice);
        _logPrice = _logInitial;
        _lastClose = ToTicks(profile.InitialPrice);
    }

    public SymbolProfile Profile { get; }

    /// <summary>Draws the step that starts at <paramref name="stepStartMs"/> (market clock, UTC).</summary>
    public StepTick Next(long stepStartMs)
    {
        var (volatilitySeason, volumeSeason) = Seasonality(stepStartMs);

        _garch = Math.Clamp((1 - GarchAlpha - GarchBeta) + (GarchAlpha * _lastShock * _lastShock * _garch) + (GarchBeta * _garch), 0.05, 25);
        _slow = (_slowPersistence * _slow) + (_slowInnovation * _random.NextNormal());
        var sigma = _baseSigma * Math.Sqrt(_garch) * Math.Exp(_slow) * volatilitySeason;

        if (_random.NextDouble() < _regimeSwitchProbability)
        {
            var u = _random.NextDouble();
            _regime = u < 0.3 ? -1 : u < 0.7 ? 0 : 1;
        }

        var shock = _random.NextStudentT4();
        _lastShock = shock;
        var drift = (_regime * TrendStrength * sigma) - (_meanReversion * (_logPrice - _logInitial));
        _logPrice += drift + (sigma * shock);

        var tick = default(StepTick);
        tick.Open = _lastClose;
        tick.Close = Math.Max(1, ToTicks(Math.Exp(_logPrice)));
        var top = Math.Max(tick.Open, tick.Close);
        var bottom = Math.Min(tick.Open, tick.Close);
        tick.High = Math.Max(top, (long)Math.Ceiling(top * Math.Exp(Math.Abs(_random.NextNormal()) * 0.6 * sigma)));
        tick.Low = Math.Max(1, Math.Min(bottom, (long)Math.Floor(bottom * Math.Exp(-Math.Abs(_random.NextNormal()) * 0.6 * sigma))));
        _lastClose = tick.Close;

        // Volume follows the size of the move (|shock| scaled by the current volatility regime) and the clock.
        var activity = 0.45 + (0.55 * Math.Abs(shock) * Math.Sqrt(_garch) * Math.Exp(_slow));
        var notional = _notionalPerStep * volumeSeason * activity * Math.Exp((0.35 * _random.NextNormal()) - 0.06);
        var price = tick.Close * _tick;
        tick.Volume = (long)Math.Round(notional / price * _unitsPerBase);
        var buyShare = Math.Clamp(0.5 + (0.25 * Math.Tanh(shock)) + (0.05 * _random.NextNormal()), 0.02, 0.98);
        tick.TakerBuy = (long)Math.Round(tick.Volume * buyShare);
        // About 900 trades a minute at the symbol's typical notional rate.
        tick.Trades = tick.Volume == 0 ? 0 : Math.Max(1, (long)Math.Round(notional * 900 / Profile.NotionalPerMinute));
        return tick;
    }

    private long ToTicks(double price) => (long)Math.Round(price / _tick);

    // Crypto trades around the clock but busiest in the EU/US overlap (peak ~15:00 UTC) and quieter at weekends.
    private static (double Volatility, double Volume) Seasonality(long timeMs)
    {
        var dayMs = ((timeMs % 86_400_000) + 86_400_000) % 86_400_000;
        var phase = 2 * Math.PI * ((dayMs / 3_600_000.0) - 15) / 24;
        var cos = Math.Cos(phase);
        var dayOfWeek = (int)(((Math.Floor(timeMs / 86_400_000.0) + 4) % 7 + 7) % 7); // 0 = Sunday (1970-01-01 was a Thursday)
        var weekend = dayOfWeek is 0 or 6 ? 0.7 : 1.0;
        return (1 + (0.3 * cos), (1 + (0.55 * cos)) * weekend);
    }
}
