namespace SignalStream.Engine.Inference.Internal;

/// <summary>Receives one model's result for one queued request (a row of a batch).</summary>
internal interface IPredictionSink
{
    /// <param name="slot">The slot the request was queued with (the model's position in the candle's prediction list).</param>
    void OnPrediction(int slot, float down, float flat, float up);

    /// <summary>
    /// The request has no prediction: the batch holding it failed in ONNX Runtime, or (a recurrent model) its stream's
    /// state could not be stepped or its old chain is not whole yet.
    /// </summary>
    void OnFailed(int slot);
}

/// <summary>Writes one request's model input (a [window][features] row, row-major) into its place in a batch.</summary>
internal interface IBatchRowWriter
{
    void Write(Span<float> row);
}
