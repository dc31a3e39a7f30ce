using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Signals.Internal;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

public class EnsembleVoteTests
{
    private static readonly SignalRules Defaults = Rules();

    [Fact]
    public void WeightsAreNormalisedOverTheModelsThatPredicted()
    {
        // Weights 3 and 1 → 0.75 and 0.25: long = 0.75·0.8 + 0.25·0.4 = 0.7, short = 0.75·0.1 + 0.25·0.2 = 0.125.
        ModelPrediction[] models = [Lstm(0.1, 0.1, 0.8, weight: 3), PatchTst(0.2, 0.4, 0.4, weight: 1)];
        var vote = EnsembleVoting.Combine(models);
        Assert.Equal(0.7, vote.Up, 6);
        Assert.Equal(0.125, vote.Down, 6);
        Assert.Equal(0.175, vote.Flat, 6);
    }

    [Fact]
    public void ModelsWithoutPositiveWeightCountEquallyWhenNoModelHasWeight()
    {
        ModelPrediction[] models = [Lstm(0.1, 0.1, 0.8, weight: 0), PatchTst(0.3, 0.1, 0.6, weight: 0)];
        var vote = EnsembleVoting.Combine(models);
        Assert.Equal(0.7, vote.Up, 6);
        Assert.Equal(0.2, vote.Down, 6);
    }

    [Fact]
    public void VoteExactlyAtTheScoreThresholdIsASignal()
    {
        var verdict = EnsembleVoting.Decide(Combine(Lstm(0.20, 0.15, 0.65)), Defaults, out var direction);
        Assert.Equal(VoteVerdict.Directional, verdict);
        Assert.Equal(SignalDirection.Long, direction);
    }

    [Fact]
    public void VoteJustBelowTheScoreThresholdIsNoSignal()
    {
        Assert.Equal(VoteVerdict.VoteScore, EnsembleVoting.Decide(Combine(Lstm(0.20, 0.16, 0.64)), Defaults, out _));
        Assert.Equal(VoteVerdict.VoteScore, EnsembleVoting.Decide(Combine(Lstm(0.649, 0.251, 0.10)), Defaults, out _));
    }

    [Fact]
    public void MarginExactlyAtTheThresholdIsASignalAndJustBelowIsNot()
    {
        // With the default score 0.65 the margin rule can never bind (the other side is at most 0.35), so lower the score.
        var rules = Rules(o => o.MinVoteScore = 0.40);
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Decide(Combine(Lstm(0.40, 0.05, 0.55)), rules, out var direction));
        Assert.Equal(SignalDirection.Long, direction);
        Assert.Equal(VoteVerdict.VoteMargin, EnsembleVoting.Decide(Combine(Lstm(0.41, 0.05, 0.54)), rules, out _));
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Decide(Combine(Lstm(0.55, 0.05, 0.40)), rules, out direction));
        Assert.Equal(SignalDirection.Short, direction);
    }

    [Fact]
    public void ATieIsNeverASignalEvenWithoutAMarginThreshold()
    {
        var rules = Rules(o => { o.MinVoteMargin = 0; o.MinVoteScore = 0; });
        Assert.Equal(VoteVerdict.VoteMargin, EnsembleVoting.Decide(Combine(Lstm(0.45, 0.10, 0.45)), rules, out _));
    }

    [Fact]
    public void ShortSignalWhenDownDominates()
    {
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Decide(Combine(Lstm(0.80, 0.10, 0.10), PatchTst(0.70, 0.20, 0.10)), Defaults, out var direction));
        Assert.Equal(SignalDirection.Short, direction);
    }

    [Fact]
    public void BothFamiliesVotingTheDirectionAgree()
    {
        ModelPrediction[] models = [Lstm(0.1, 0.1, 0.8), PatchTst(0.2, 0.3, 0.5)];
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Agreement(models, SignalDirection.Long, Defaults));
    }

    [Fact]
    public void AFamilyVotingFlatMakesTheStreamDivergent()
    {
        // The ensemble is long (0.6·0.9 + 0.4·0.3 = 0.66) but PatchTST's own argmax is flat.
        ModelPrediction[] models = [Lstm(0.05, 0.05, 0.9), PatchTst(0.2, 0.5, 0.3)];
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Decide(EnsembleVoting.Combine(models), Defaults, out var direction));
        Assert.Equal(VoteVerdict.Divergent, EnsembleVoting.Agreement(models, direction, Defaults));
    }

    [Fact]
    public void OpposingFamiliesAreDivergent()
    {
        ModelPrediction[] models = [Lstm(0.05, 0.05, 0.9), PatchTst(0.5, 0.2, 0.3)];
        Assert.Equal(VoteVerdict.Divergent, EnsembleVoting.Agreement(models, SignalDirection.Long, Defaults));
    }

    [Fact]
    public void AMissingFamilyGivesNoSignalWhenAgreementIsRequired()
    {
        ModelPrediction[] models = [Lstm(0.05, 0.05, 0.9)];
        Assert.Equal(VoteVerdict.MissingFamily, EnsembleVoting.Agreement(models, SignalDirection.Long, Defaults));
    }

    [Fact]
    public void TheFamiliesPresentDecideWhenAgreementIsNotRequired()
    {
        var rules = Rules(o => o.RequireFamilyAgreement = false);
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Agreement([Lstm(0.05, 0.05, 0.9)], SignalDirection.Long, rules));
        Assert.Equal(VoteVerdict.Divergent, EnsembleVoting.Agreement([Lstm(0.05, 0.55, 0.4)], SignalDirection.Long, rules));
        var other = new ModelPrediction("gru", "1", "gru", false, 1, 0.1f, 0.1f, 0.8f);
        Assert.Equal(VoteVerdict.MissingFamily, EnsembleVoting.Agreement([other], SignalDirection.Long, rules));
    }

    [Fact]
    public void AFamilyWithSeveralModelsVotesWithItsWeightedProbabilities()
    {
        // LSTM models: (up 0.9, w 3) and (flat 0.6, w 1) → up = 0.75·0.9 + 0.25·0.3 = 0.75: the family votes long.
        ModelPrediction[] models = [Lstm(0.05, 0.05, 0.9, weight: 3, name: "a"), Lstm(0.1, 0.6, 0.3, weight: 1, name: "b"), PatchTst(0.1, 0.2, 0.7)];
        Assert.Equal(VoteVerdict.Directional, EnsembleVoting.Agreement(models, SignalDirection.Long, Defaults));
    }

    [Fact]
    public void AnArgmaxTieCountsAsFlat()
    {
        Assert.Equal(VoteDirection.Flat, new Probabilities3(0.1, 0.45, 0.45).Argmax());
        Assert.Equal(VoteDirection.Flat, new Probabilities3(0.4, 0.2, 0.4).Argmax());
    }

    private static Probabilities3 Combine(params ModelPrediction[] models) => EnsembleVoting.Combine(models);
}
