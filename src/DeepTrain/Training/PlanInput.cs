using DeepTrain.Backends;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>Copies a loader's batch into a plan's input and target; shared by training and evaluation.</summary>
internal static class PlanInput
{
    /// <summary>Copies rows [first, first + plan batch) of <paramref name="batch"/> into the plan's input and target.</summary>
    /// <exception cref="NotSupportedException">The loss does not take integer class targets.</exception>
    public static void Load(IBackend backend, Loss loss, Plan plan, Batch batch, int first = 0)
    {
        int n = plan.BatchSize;
        int per = (int)(plan.Input.Elements / n);
        backend.CopyFromHost<float>(batch.Images.AsSpan(first * per, n * per), plan.Input);
        if (loss.TargetDType == DType.Int32) backend.CopyFromHost<int>(batch.Labels.AsSpan(first, n), plan.Target);
        else throw new NotSupportedException($"{loss.Name}: training from a classification data set needs integer targets");
    }
}
