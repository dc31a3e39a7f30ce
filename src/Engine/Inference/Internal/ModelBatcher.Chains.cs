using System.Buffers;
using System.Runtime.InteropServices;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>A recurrent model's batches: each row steps its stream's chains from the state the stream's previous row left.</summary>
/// <remarks>
/// The state is gathered into the batch when it runs, not when the row is queued, so the reader never waits for a
/// stream's previous row: rows of one model run in order on one worker, and a stream has at most one row a batch (its
/// second row closes the open batch: the backfill case). A row whose stream must be rebuilt (<see cref="StreamChain.Next"/>)
/// carries the earlier rows; the batch steps those first, all such streams together, one run per row position.
/// </remarks>
internal sealed partial class ModelBatcher
{
    /// <summary>Queues one recurrent request. False when the queue is full (wait, then retry).</summary>
    /// <exception cref="ObjectDisposedException">After <see cref="Stop"/>.</exception>
    public bool TryEnqueue(in RecurrentRow request, IPredictionSink sink, int slot)
    {
        var wake = Wake.None;
        lock (_lock)
        {
            if (_filling is { } open && request.Chain.Batch == open.Sequence)
            {
                // The stream's previous row is in the open batch; this one needs the state that row leaves.
                wake = Close(open);
            }

            var batch = OpenBatch();
            if (batch is null)
            {
                Notify(wake);
                return false;
            }

            var row = batch.Count;
            batch.Chains!.Add(row, in request, batch.InputRow(row, _rowLength));
            request.Chain.Batch = batch.Sequence;
            wake |= Queued(batch, sink, slot);
        }

        Notify(wake);
        return true;
    }

    /// <summary>Queues one recurrent request, waiting for a free batch buffer while the queue is full (back-pressure, never a drop).</summary>
    public async ValueTask EnqueueAsync(RecurrentRow request, IPredictionSink sink, int slot, CancellationToken cancellationToken)
    {
        while (!TryEnqueue(in request, sink, slot))
        {
            await WaitForSpaceAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void RunChained(Batch batch, ChainRows chains)
    {
        var rows = batch.Count;
        var rebuilt = chains.Rebuilding(rows);
        if (rebuilt > 0)
        {
            _metrics.ChainsRebuilt(_model, rebuilt);
            StepEarlierRows(batch, chains, rows);
        }

        chains.Gather(rows, _recurrence!);
        _session.Run(batch.BindingFor(_session, rows, 1, _features, _recurrence));
        chains.Scatter(rows);
    }

    /// <summary>
    /// Steps the earlier rows of the streams being rebuilt, aligned so each stream's last earlier row runs just before
    /// the batch's own run: run t takes every stream with at least (most earlier rows − t) of them.
    /// </summary>
    private unsafe void StepEarlierRows(Batch batch, ChainRows chains, int rows)
    {
        // The batch's input holds the rows' newest rows; the runs below borrow it, so it is put back after.
        var length = rows * _features;
        var saved = ArrayPool<float>.Shared.Rent(length);
        var input = new Span<float>(batch.Input, length);
        input.CopyTo(saved);
        try
        {
            var most = chains.MostEarlier(rows);
            for (var t = 0; t < most; t++)
            {
                var count = chains.GatherEarlier(rows, most - t, batch.Input, _features, _recurrence!);
                _session.Run(batch.BindingFor(_session, count, 1, _features, _recurrence));
                chains.ScatterEarlier(count);
            }
        }
        finally
        {
            saved.AsSpan(0, length).CopyTo(input);
            ArrayPool<float>.Shared.Return(saved);
        }
    }

    /// <summary>A recurrent batch's rows' chains and the state tensors bound beside its input and output.</summary>
    private sealed unsafe class ChainRows : IDisposable
    {
        private readonly int _width;
        private readonly StreamChain?[] _chains;
        private readonly long[] _bars;
        private readonly long[] _previousBars;
        private readonly bool[] _rebuild;
        private readonly bool[] _complete;
        private readonly bool[] _stepped;
        private readonly int[] _earlier;
        private readonly int[] _earlierAt;

        // What one run of earlier rows took: the batch row and the bar of each of its rows.
        private readonly int[] _runRows;
        private readonly long[] _runBars;

        // The earlier rows of the streams being rebuilt, rented when a batch has some and returned after it runs.
        private float[] _earlierRows = [];
        private long[] _earlierBars = [];
        private int _earlierUsed;

        public ChainRows(int maxRows, int width)
        {
            _width = width;
            _chains = new StreamChain?[maxRows];
            _bars = new long[maxRows];
            _previousBars = new long[maxRows];
            _rebuild = new bool[maxRows];
            _complete = new bool[maxRows];
            _stepped = new bool[maxRows];
            _earlier = new int[maxRows];
            _earlierAt = new int[maxRows];
            _runRows = new int[maxRows];
            _runBars = new long[maxRows];
            State = (float*)NativeMemory.AlignedAlloc((nuint)maxRows * (nuint)width * sizeof(float), 64);
            StateOut = (float*)NativeMemory.AlignedAlloc((nuint)maxRows * (nuint)width * sizeof(float), 64);
            new Span<float>(State, maxRows * width).Clear();
            new Span<float>(StateOut, maxRows * width).Clear();
        }

        public float* State { get; }

        public float* StateOut { get; }

        /// <summary>Writes the request's newest row into its batch row and keeps its chain and any earlier rows.</summary>
        public void Add(int row, in RecurrentRow request, Span<float> input)
        {
            var features = request.FeatureIndices.Length;
            request.Features.CopyWindow(request.FeatureIndices, 1, input);
            _chains[row] = request.Chain;
            _bars[row] = request.Bar;
            _previousBars[row] = request.PreviousBar;
            _rebuild[row] = request.Rebuild;
            _complete[row] = request.Complete;
            _stepped[row] = false;
            _earlier[row] = request.Earlier;
            _earlierAt[row] = _earlierUsed;
            if (request.Earlier == 0)
            {
                return;
            }

            // The window copy includes the newest row; the next request's rows overwrite it.
            var copied = request.Earlier + 1;
            Reserve(_earlierUsed + copied, features);
            request.Features.CopyWindow(request.FeatureIndices, copied, _earlierRows.AsSpan(_earlierUsed * features, copied * features));
            request.Features.CopyBars(copied, _earlierBars.AsSpan(_earlierUsed, copied));
            _earlierUsed += request.Earlier;
        }

        /// <summary>Whether the row's prediction is delivered: it was stepped and reads a whole old chain.</summary>
        public bool Predicts(int row) => _stepped[row] && _complete[row];

        /// <summary>Resets the chains being rebuilt (they are stepped from zero) and counts them.</summary>
        public int Rebuilding(int rows)
        {
            var count = 0;
            for (var i = 0; i < rows; i++)
            {
                if (_rebuild[i])
                {
                    _chains[i]!.LastBar = StreamFeatureState.NoBar;
                    count++;
                }
            }

            return count;
        }

        public int MostEarlier(int rows)
        {
            var most = 0;
            for (var i = 0; i < rows; i++)
            {
                most = Math.Max(most, _earlier[i]);
            }

            return most;
        }

        /// <summary>
        /// Gathers into the first rows of the input and state the earlier row, <paramref name="before"/> rows before its
        /// newest, of every stream that has one; returns how many.
        /// </summary>
        public int GatherEarlier(int rows, int before, float* input, int features, Recurrence recurrence)
        {
            var count = 0;
            for (var i = 0; i < rows; i++)
            {
                if (_earlier[i] < before)
                {
                    continue;
                }

                var at = _earlierAt[i] + _earlier[i] - before;
                var chain = _chains[i]!;
                var bar = _earlierBars[at];
                _earlierRows.AsSpan(at * features, features).CopyTo(new Span<float>(input + ((nint)count * features), features));
                recurrence.Roll(chain.State, chain.LastBar, bar, StateRow(State, count));
                _runRows[count] = i;
                _runBars[count] = bar;
                count++;
            }

            return count;
        }

        public void ScatterEarlier(int count)
        {
            for (var k = 0; k < count; k++)
            {
                var chain = _chains[_runRows[k]]!;
                StateRow(StateOut, k).CopyTo(chain.State);
                chain.LastBar = _runBars[k];
            }
        }

        /// <summary>Each row's state: its stream's, rolled over to the row's bar, when it is after the row the request expects.</summary>
        public void Gather(int rows, Recurrence recurrence)
        {
            for (var i = 0; i < rows; i++)
            {
                var chain = _chains[i]!;
                var row = StateRow(State, i);
                if (chain.LastBar != _previousBars[i])
                {
                    // A row before it was not stepped (its batch failed): this one cannot be either.
                    row.Clear();
                    chain.MustRebuild();
                    continue;
                }

                recurrence.Roll(chain.State, chain.LastBar, _bars[i], row);
                _stepped[i] = true;
            }
        }

        public void Scatter(int rows)
        {
            for (var i = 0; i < rows; i++)
            {
                var chain = _chains[i]!;
                if (_stepped[i])
                {
                    StateRow(StateOut, i).CopyTo(chain.State);
                    chain.LastBar = _bars[i];
                }

                _chains[i] = null;
            }

            ReturnEarlierRows();
        }

        /// <summary>The batch failed in ONNX Runtime: every stream in it is rebuilt on its next row.</summary>
        public void Failed(int rows)
        {
            for (var i = 0; i < rows; i++)
            {
                _chains[i]?.MustRebuild();
                _chains[i] = null;
                _stepped[i] = false;
            }

            ReturnEarlierRows();
        }

        public OnnxBinding Bind(OnnxSession session, Recurrence recurrence, float* input, float* output, int rows, int features)
        {
            var featuresName = session.Inputs.First(i => i.Name != recurrence.StateInput).Name;
            var probabilitiesName = session.Outputs.First(o => o.Name != recurrence.StateOutput).Name;
            return session.Bind(
                [new OnnxTensorMemory(featuresName, (IntPtr)input, [rows, 1, features]), new OnnxTensorMemory(recurrence.StateInput, (IntPtr)State, [rows, _width])],
                [new OnnxTensorMemory(probabilitiesName, (IntPtr)output, [rows, 3]), new OnnxTensorMemory(recurrence.StateOutput, (IntPtr)StateOut, [rows, _width])]);
        }

        public void Dispose()
        {
            ReturnEarlierRows();
            NativeMemory.AlignedFree(State);
            NativeMemory.AlignedFree(StateOut);
        }

        private Span<float> StateRow(float* tensor, int row) => new(tensor + ((nint)row * _width), _width);

        private void Reserve(int rows, int features)
        {
            if (_earlierBars.Length >= rows && _earlierRows.Length >= rows * features)
            {
                return;
            }

            var bars = ArrayPool<long>.Shared.Rent(Math.Max(rows, 2 * _earlierBars.Length));
            var values = ArrayPool<float>.Shared.Rent(bars.Length * features);
            _earlierBars.AsSpan(0, _earlierUsed).CopyTo(bars);
            _earlierRows.AsSpan(0, _earlierUsed * features).CopyTo(values);
            ReturnArrays();
            (_earlierBars, _earlierRows) = (bars, values);
        }

        private void ReturnEarlierRows()
        {
            ReturnArrays();
            _earlierUsed = 0;
        }

        private void ReturnArrays()
        {
            if (_earlierBars.Length > 0)
            {
                ArrayPool<long>.Shared.Return(_earlierBars);
                ArrayPool<float>.Shared.Return(_earlierRows);
                (_earlierBars, _earlierRows) = ([], []);
            }
        }
    }
}
