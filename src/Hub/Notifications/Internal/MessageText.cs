using System.Globalization;
using System.Text;
using SignalStream.Contracts;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>The words a person reads in a chat or a mail: one headline and a few lines, in invariant culture.</summary>
internal static class MessageText
{
    public static string Headline(Notification n) => n switch
    {
        { Outcome: { } o } => string.Create(CultureInfo.InvariantCulture,
            $"{OutcomeName(o.Outcome)} {o.Symbol} {o.Timeframe.ToName()} {Direction(o.Direction)} (seq {o.SignalSeq}): {o.RMultiple:+0.00;-0.00;0.00} R"),
        { Signal: { } s } => string.Create(CultureInfo.InvariantCulture,
            $"{Direction(s.Direction)} {s.Symbol} {s.Timeframe.ToName()} · confidence {s.Confidence:0.0}%"),
        _ => "notification",
    };

    /// <summary>The lines under the headline.</summary>
    public static IReadOnlyList<(string Label, string Value)> Fields(Notification n)
    {
        var fields = new List<(string, string)>();
        if (n.Outcome is { } o)
        {
            fields.Add(("Entry", Price(o.Entry)));
            fields.Add(("Exit", Price(o.ExitPrice)));
            fields.Add(("Result", string.Create(CultureInfo.InvariantCulture, $"{o.RMultiple:+0.00;-0.00;0.00} R")));
            fields.Add(("Resolved", Time(o.ResolvedAt)));
            if (!SignalSources.IsEnsemble(o.Source))
            {
                fields.Add(("Source", o.Source));
            }

            fields.Add(("Why", o.Reason));
        }
        else if (n.Signal is { } s)
        {
            fields.Add(("Entry", Price(s.Entry)));
            fields.Add(("Target", Price(s.Target)));
            fields.Add(("Stop", Price(s.Stop)));
            fields.Add(("R:R", s.RiskReward.ToString("0.00", CultureInfo.InvariantCulture)));
            fields.Add(("Fusion", s.FusionScore.ToString("0", CultureInfo.InvariantCulture)));
            fields.Add(("Expires", Time(s.ExpiresAt)));
            fields.Add(("Seq", s.Seq.ToString(CultureInfo.InvariantCulture)));
            if (!SignalSources.IsEnsemble(s.Source))
            {
                fields.Add(("Source", s.Source));
            }
        }

        return fields;
    }

    /// <summary>Headline, fields and the rationale as plain text (Telegram and the mail body).</summary>
    public static string PlainText(Notification n)
    {
        var text = new StringBuilder(Headline(n)).Append('\n');
        foreach (var (label, value) in Fields(n))
        {
            text.Append(label).Append(": ").Append(value).Append('\n');
        }

        if (n.Outcome is null && n.Signal is { Rationale.Count: > 0 } s)
        {
            text.Append('\n');
            foreach (var line in s.Rationale)
            {
                text.Append("• ").Append(line).Append('\n');
            }
        }

        text.Append('\n').Append("id ").Append(n.SignalId);
        return text.ToString();
    }

    public static string Direction(SignalDirection d) => d == SignalDirection.Long ? "LONG" : "SHORT";

    private static string OutcomeName(OutcomeKind kind) => kind switch
    {
        OutcomeKind.Win => "WIN",
        OutcomeKind.Loss => "LOSS",
        _ => "EXPIRED",
    };

    private static string Price(decimal price) => price.ToString("0.########", CultureInfo.InvariantCulture);

    private static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
