using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Optim;

/// <summary>One parameter group's values, gradients and slices of the optimizer's state buffers, made once at construction.</summary>
internal readonly record struct GroupView(ParameterGroup Group, Tensor W, Tensor G, Tensor[] State);

/// <summary>Views every optimizer iterates: one fused backend call per group and step, never one per tensor.</summary>
internal static class GroupViews
{
    /// <summary>The groups of <paramref name="p"/> with matching slices of <paramref name="copies"/> parameter-sized state buffers laid end to end in <paramref name="state"/>.</summary>
    public static GroupView[] Build(ParameterSet p, DeviceBuffer state, int copies)
    {
        long n = p.TotalFloats;
        return p.Groups.Select(g =>
        {
            var (w, grad) = p.View(g);
            var shape = Shape.Of(checked((int)g.Count));
            var st = Enumerable.Range(0, copies).Select(k => new Tensor(state, (k * n + g.Start) * 4, shape)).ToArray();
            return new GroupView(g, w, grad, st);
        }).ToArray();
    }

    /// <summary>State buffer <paramref name="copy"/> as one flat tensor (checkpoints).</summary>
    public static Tensor Whole(ParameterSet p, DeviceBuffer state, int copy) => new(state, copy * p.TotalFloats * 4, Shape.Of(checked((int)p.TotalFloats)));
}
