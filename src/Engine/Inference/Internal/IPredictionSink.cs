namespace SignalStream.Engine.Inference.Internal;

/// <summary>Receives one model's result for one queued request (a row of a batch).</summary>
internal interface IPredictionSink
{
    /// <param name="slot">The slot the request was queued with (the model's position in the candle's prediction list).</param>
    void OnPrediction(int slot, float down, float flat, float up);

    /// <summary>The batch holding this request failed in ONNX Runtime; the request has no prediction.</summary>
    void OnFailed(int slot);
}

/// <summary>Writes one request's model input (a [window][features] row, row-major) into its place in a batch.</summary>
internal interface IBatchRowWriter
{
    void Write(Span<float> row);
}
