using SignalStream.Contracts;

namespace SignalStream.Engine.Inference;

/// <summary>The models the registry knows, loaded or failed, for <c>/api/models</c>.</summary>
public interface IModelCatalog
{
    IReadOnlyList<ModelInfo> GetModels();
}
