namespace SignalStream.Engine.Journal.Internal;

/// <summary>
/// Ids of signals resolved before they were tracked, so their late <c>Track</c> does not count them open. A store's
/// global order puts an outcome before its signal only inside one group commit (at most
/// <c>Storage:Writer:MaxBatchSize</c> events), so the signal follows within that many events; ids whose signal never
/// comes (a rebuild from outcomes whose signals retention dropped) leave oldest first past <see cref="Capacity"/>.
/// </summary>
internal sealed class ResolvedFirst
{
    public const int Capacity = 10_000;

    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public int Count => _ids.Count;

    public void Add(string id)
    {
        if (!_ids.Add(id))
        {
            return;
        }

        _order.Enqueue(id);
        while (_order.Count > Capacity)
        {
            _ids.Remove(_order.Dequeue());
        }
    }

    public bool Remove(string id) => _ids.Remove(id);

    /// <summary>The ids still held, oldest first.</summary>
    public IEnumerable<string> Ids
    {
        get
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var id in _order)
            {
                if (_ids.Contains(id) && seen.Add(id))
                {
                    yield return id;
                }
            }
        }
    }
}
