namespace SignalStream.LoadTests.Measurement;

/// <summary>
/// One client's view of one symbol's seq: checks that what arrives is contiguous and counts gaps and duplicates.
/// </summary>
/// <remarks>
/// Live signals can reach the client before the Subscribe completion that says where live delivery starts (the server
/// joins the subscriber, then replies), on a first subscribe and on a resume alike, so arrivals before the completion
/// wait in <see cref="_early"/> and are replayed once the start is known, as the TypeScript SDK's sequencer does.
/// </remarks>
internal sealed class SeqLedger
{
    private List<long>? _early;
    private bool _startAtFirst;
    private bool _awaitingAnswer;

    public SeqLedger(string symbol) => Symbol = symbol;

    public string Symbol { get; }

    /// <summary>Newest seq seen in order; -1 until the subscription is answered.</summary>
    public long Last { get; private set; } = -1;

    public long Gaps { get; private set; }

    public long Duplicates { get; private set; }

    public long Received { get; private set; }

    public bool Started => Last >= 0;

    /// <summary>Where this subscription's first answer said live delivery starts (its <c>latestSeq</c>); -1 until then.</summary>
    public long StartSeq { get; private set; } = -1;

    /// <summary>Records a live arrival; true when it is new (not a duplicate).</summary>
    public bool Observe(long seq)
    {
        if (_startAtFirst)
        {
            _startAtFirst = false;
            Last = seq - 1;
        }

        if (Last < 0 || _awaitingAnswer)
        {
            (_early ??= []).Add(seq);
            return true;
        }

        return Apply(seq);
    }

    /// <summary>A Subscribe is on its way (a resume, say): live arrivals wait for its answer.</summary>
    public void AwaitAnswer() => _awaitingAnswer = true;

    /// <summary>The Subscribe answer: live delivery continues after <paramref name="latestSeq"/>; <paramref name="recovered"/>
    /// are the stored signals after the client's afterSeq, in order.</summary>
    public void Start(long afterSeq, long latestSeq, ReadOnlySpan<long> recovered)
    {
        _awaitingAnswer = false;
        if (StartSeq < 0)
        {
            StartSeq = latestSeq;
        }

        if (afterSeq < 0)
        {
            Last = latestSeq;
        }
        else
        {
            Last = afterSeq;
            foreach (var seq in recovered)
            {
                Apply(seq);
            }

            if (Last < latestSeq)
            {
                // The server said it delivered up to latestSeq but did not send them all: a hole.
                Gaps += latestSeq - Last;
                Last = latestSeq;
            }
        }

        if (_early is { } early)
        {
            _early = null;
            foreach (var seq in early)
            {
                if (seq > latestSeq || afterSeq >= 0)
                {
                    Apply(seq);
                }
            }
        }
    }

    /// <summary>For servers without a start position (the peers): the first arrival (or the lowest early one) sets where
    /// this subscription starts; after a re-join it keeps counting from where it was, so what the client missed while
    /// disconnected is a gap. Answers a pending <see cref="AwaitAnswer"/>: arrivals held for it are applied in order.</summary>
    public void StartAtFirstArrival()
    {
        _awaitingAnswer = false;
        var early = _early;
        _early = null;
        if (Last >= 0)
        {
            foreach (var seq in early ?? [])
            {
                Apply(seq); // a re-join after a reconnect keeps counting from where it was
            }

            return;
        }

        if (early is { Count: > 0 })
        {
            Last = early.Min() - 1;
            foreach (var seq in early)
            {
                Apply(seq);
            }
        }
        else
        {
            _startAtFirst = true;
        }
    }

    /// <summary>Counts what never arrived up to the last seq published for this symbol.</summary>
    public long MissingUpTo(long finalSeq) => Last < 0 ? finalSeq : Math.Max(0, finalSeq - Last);

    private bool Apply(long seq)
    {
        Received++;
        if (seq <= Last)
        {
            Duplicates++;
            return false;
        }

        if (seq > Last + 1)
        {
            Gaps += seq - Last - 1;
        }

        Last = seq;
        return true;
    }
}
