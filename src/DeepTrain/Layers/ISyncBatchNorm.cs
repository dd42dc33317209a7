namespace DeepTrain.Layers;

/// <summary>
/// Batch-norm statistics over a batch larger than this process's (PyTorch's <c>SyncBatchNorm</c>): when a training plan's
/// <see cref="ExecutionState"/> carries one, every <see cref="BatchNorm"/> forward and backward in training mode runs
/// through it instead of normalising over its own batch. Data-parallel training with synchronised batch norm sets it
/// (<c>Distributed.SyncBatchNorm</c>); evaluation plans never see it.
/// </summary>
internal interface ISyncBatchNorm
{
    /// <summary>Training forward of <paramref name="layer"/> on step <paramref name="s"/>: global statistics, y, saved
    /// mean and inverse std, running statistics.</summary>
    void Forward(Step s, BatchNorm layer);

    /// <summary>Backward of <paramref name="layer"/> on step <paramref name="s"/>: dx of the global batch, this process's
    /// share of dγ and dβ.</summary>
    void Backward(Step s, BatchNorm layer);
}
