namespace SignalStream.Engine.Features;

/// <summary>Indicator values at a closed candle that the signal stage needs for levels and rationale.</summary>
public readonly record struct IndicatorSnapshot(
    double Close,
    double Atr14,
    double Rsi14,
    double MacdHistogram,
    double BollingerPosition,
    double RealizedVolatility,
    double VolumeZScore);
