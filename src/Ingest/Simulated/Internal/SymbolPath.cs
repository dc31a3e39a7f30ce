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
/// factor, Student-t(4) shocks, weak mean reversion to the initial level, intraday and weekend seasonality, and volume
/// that rises with the size of the move; plus the learnable structure the bundled models are trained on
/// (docs/simulator.md): calm/trend regimes whose onset is a volatility breakout with a directional impulse and whose
/// drift continues for about an hour with order flow leaning its way, and rare liquidation spikes that mostly revert.
/// </summary>
internal sealed class SymbolPath
{
    private const double YearMs = 365.25 * 86_400_000;
    private const double GarchAlpha = 0.08;
    private const double GarchBeta = 0.90;
    private const double SlowVolatilityOfVolatility = 0.35;
    private const double TrendStrength = 0.3;           // drift per step, in units of the step's sigma
    private const double MeanTrendMs = 1 * 3_600_000;   // trends are short bursts ...
    private const double MeanCalmMs = 4 * 3_600_000;    // ... between longer calm stretches
    private const double BreakoutGarch = 3;             // a trend starts with volatility expanding to at least this
    private const double BreakoutImpulse = 2.5;         // and a first move of this many sigmas its way
    private const double TrendOrderFlow = 0.1;          // taker-buy share leans this far towards the trend
    private const double MeanSpikeMs = 6 * 3_600_000;
    private const double SpikeSize = 5;                 // a liquidation spike moves this many sigmas ...
    private const double SpikeRetrace = 0.7;            // ... and this share of it reverts ...
    private const double SpikeRetraceRate = 0.1;        // ... at this rate per step

    private readonly SimulationRandom _random;
    private readonly double _baseSigma;
    private readonly double _slowPersistence;
    private readonly double _slowInnovation;
    private readonly double _trendStartProbability;
    private readonly double _trendEndProbability;
    private readonly double _spikeProbability;
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
    private double _overshoot;   // log-price still to revert after a spike
    private long _lastClose;

    public SymbolPath(SymbolProfile profile, ulong seed, long stepMs)
    {
        Profile = profile;
        _random = new SimulationRandom(seed ^ SimulationRandom.StableHash(profile.Symbol));
        _baseSigma = profile.AnnualVolatility * Math.Sqrt(stepMs / YearMs);
        _slowPersistence = Math.Exp(-stepMs / (2.0 * 86_400_000));
        _slowInnovation = SlowVolatilityOfVolatility * Math.Sqrt(1 - (_slowPersistence * _slowPersistence));
        _trendStartProbability = Math.Min(1, stepMs / MeanCalmMs);
        _trendEndProbability = Math.Min(1, stepMs / MeanTrendMs);
        _spikeProbability = Math.Min(1, stepMs / MeanSpikeMs);
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

        // Regimes: calm → trend (either way) → calm. A trend's onset is a breakout (volatility expands and the first
        // step jumps its way), so it is visible in vol_ratio, range, volume and momentum; its drift then persists.
        var impulse = 0.0;
        var regimeDraw = _random.NextDouble();
        if (_regime == 0 && regimeDraw < _trendStartProbability)
        {
            _regime = _random.NextDouble() < 0.5 ? -1 : 1;
            _garch = Math.Max(_garch, BreakoutGarch);
            sigma = _baseSigma * Math.Sqrt(_garch) * Math.Exp(_slow) * volatilitySeason;
            impulse = _regime * BreakoutImpulse * sigma;
        }
        else if (_regime != 0 && regimeDraw < _trendEndProbability)
        {
            _regime = 0;
        }

        // Liquidation spikes (calm regime only): a sharp move that mostly reverts over the next ~10 steps, the
        // mean reversion after an extreme RSI that real order books show.
        var spikeDraw = _random.NextDouble();
        var spikeSide = _random.NextDouble() < 0.5 ? -1 : 1;
        if (_regime == 0 && spikeDraw < _spikeProbability)
        {
            impulse += spikeSide * SpikeSize * sigma;
            _overshoot += spikeSide * SpikeSize * sigma * SpikeRetrace;
        }

        var retrace = _overshoot * SpikeRetraceRate;
        _overshoot -= retrace;

        var shock = _random.NextStudentT4();
        _lastShock = shock;
        var drift = (_regime * TrendStrength * sigma) - (_meanReversion * (_logPrice - _logInitial)) + impulse - retrace;
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
        var buyShare = Math.Clamp(0.5 + (0.25 * Math.Tanh(shock)) + (TrendOrderFlow * _regime) + (0.05 * _random.NextNormal()), 0.02, 0.98);
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
