using FsCheck;
using FsCheck.Fluent;
using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Signals.Internal;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

public class DecisionPropertyTests
{
    /// <summary>One generated decision input: two families, price, ATR and risk settings.</summary>
    public sealed record Case(double[] Lstm, double[] Patch, double LstmWeight, decimal Close, double AtrPercent, double TargetBase, double StopBase, double MinRiskReward)
    {
        public override string ToString() =>
            $"lstm [{string.Join(", ", Lstm)}] w {LstmWeight}, patchtst [{string.Join(", ", Patch)}], close {Close}, atr% {AtrPercent}, target×{TargetBase}, stop×{StopBase}, min R:R {MinRiskReward}";
    }

    private static readonly Gen<double[]> AnyProbabilities =
        from a in Gen.Choose(0, 1000)
        from b in Gen.Choose(0, 1000)
        from c in Gen.Choose(1, 1000)
        select Normalise(a, b, c);

    // Half the cases lean hard one way so that many signals come out and the level invariants are really exercised.
    private static readonly Gen<double[]> LeaningProbabilities =
        from strong in Gen.Choose(600, 1000)
        from rest in Gen.Choose(0, 1000 - strong)
        from up in Gen.Elements(true, false)
        select up ? Normalise(rest / 2, rest - (rest / 2), strong) : Normalise(strong, rest - (rest / 2), rest / 2);

    private static readonly Gen<Case> Cases =
        from lstm in Gen.OneOf(AnyProbabilities, LeaningProbabilities)
        from patch in Gen.OneOf(AnyProbabilities, LeaningProbabilities)
        from lstmWeight in Gen.Choose(0, 10).Select(w => w / 10.0)
        from cents in Gen.Choose(1, 10_000_000)
        from atrBasisPoints in Gen.Choose(1, 2000)
        from targetBase in Gen.Elements(0.5, 1.0, 1.5, 2.0)
        from stopBase in Gen.Elements(0.8, 1.0, 1.5, 2.5)
        from minRiskReward in Gen.Elements(0.5, 1.2, 2.0, 3.0)
        select new Case(lstm, patch, lstmWeight, cents / 100m, atrBasisPoints / 10_000.0, targetBase, stopBase, minRiskReward);

    [Fact]
    public void EveryEmittedSignalHasItsLevelsOnTheRightSidesAndEnoughRewardForItsRisk()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(3000), Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var (rules, signal) = Decide(c);
            if (signal is null)
            {
                return true;
            }

            var ordered = signal.Direction == SignalDirection.Long
                ? signal.Target > signal.Entry && signal.Entry > signal.Stop
                : signal.Target < signal.Entry && signal.Entry < signal.Stop;
            var reward = Math.Abs(signal.Target - signal.Entry);
            var risk = Math.Abs(signal.Entry - signal.Stop);
            return ordered
                && signal.Stop > 0 && signal.Target > 0
                && signal.Entry == c.Close
                && signal.RiskReward >= rules.MinRiskReward
                && (double)(reward / risk) >= rules.MinRiskReward
                && signal.FusionScore is >= 0 and <= 100
                && signal.Confidence is >= 0 and <= 100;
        }));
    }

    [Fact]
    public void NoSignalComesFromADivergentOrLowConfidencePrediction()
    {
        var emitted = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(3000), Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var (_, signal) = Decide(c);
            if (signal is null)
            {
                return true;
            }

            emitted++;

            // An independent oracle of the reference rules, straight from the formulas.
            var lw = c.LstmWeight;
            var pw = 0.4;
            var total = lw + pw;
            var longScore = ((lw * (float)c.Lstm[2]) + (pw * (float)c.Patch[2])) / total;
            var shortScore = ((lw * (float)c.Lstm[0]) + (pw * (float)c.Patch[0])) / total;
            var confident = Math.Max(longScore, shortScore) >= 0.65 - 1e-6 && Math.Abs(longScore - shortScore) >= 0.15 - 1e-6;
            var direction = longScore > shortScore ? 2 : 0;
            var agree = Argmax(c.Lstm) == direction && Argmax(c.Patch) == direction;
            var sameSide = signal.Direction == (direction == 2 ? SignalDirection.Long : SignalDirection.Short);
            return confident && agree && sameSide && Math.Abs(signal.Confidence - (100 * Math.Max(longScore, shortScore))) < 0.01;
        }));

        // The property must not pass vacuously.
        Assert.True(emitted > 100, $"only {emitted} signals were emitted in 3000 cases");
    }

    private static (SignalRules Rules, Signal? Signal) Decide(Case c)
    {
        var rules = Rules(o =>
        {
            o.TargetAtrBase = c.TargetBase;
            o.StopAtrBase = c.StopBase;
            o.MinRiskReward = c.MinRiskReward;
        });
        ModelPrediction[] models =
        [
            Lstm(c.Lstm[0], c.Lstm[1], c.Lstm[2], weight: c.LstmWeight),
            PatchTst(c.Patch[0], c.Patch[1], c.Patch[2], weight: 0.4),
        ];
        var candle = Nth(Timeframe.OneHour, 0, c.Close);
        var result = Result(candle, (double)c.Close * c.AtrPercent, models);
        var view = new TimeframeView(rules.FusionFamilies.Length);
        view.Set(models, candle.CloseTime, rules);
        var views = new TimeframeView?[Timeframes.All.Count];
        var decision = new SignalDecider(rules).Decide(models, result, views, view, 0, out var signal);
        Assert.Equal(decision == DecisionResult.Signal, signal is not null);
        return (rules, signal);
    }

    private static int Argmax(double[] p)
    {
        var (down, flat, up) = ((float)p[0], (float)p[1], (float)p[2]);
        return up > down && up > flat ? 2 : down > up && down > flat ? 0 : 1;
    }

    private static double[] Normalise(int a, int b, int c)
    {
        double sum = a + b + c;
        return [a / sum, b / sum, c / sum];
    }
}
