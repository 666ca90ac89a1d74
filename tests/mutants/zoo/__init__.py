"""The mutant zoo: torch with exactly one realistic autograd bug each, one module per area.

Every mutant is `adapters.torch_adapter.TorchAdapter` with one bug planted where an engine
author could plausibly ship it, through torch's public API only: an op whose backward is a
custom `torch.autograd.Function` with a wrong vjp, a wrong `backward`/`grad`/`zero_grad`
verb, a custom-Function mechanism that mishandles its ctx, hooks that run wrongly. Seen from
the suite, each is an engine with one bug; the kill report (`python -m tests.mutants.kill`)
and tests/mutants/test_zoo.py check that the ci suites catch every one.

Each mutant is loadable as a backend (`--backend tests.mutants.zoo:SinSign`: every one is
exported here by name) and states its `id`, the semantic `area`, a one-line `description`
and the suite tests expected to kill it (`killers`, killers.Killer: the suite's test
function and its parameter). Their `render_script` returns None: the unmutated torch script
would not reproduce the bug.

The modules: base (Mutant, OpMutant), killers, derivatives (and broadcasting), weights,
accumulation (and retain_graph, zero_grad, reuse), graph_control (and grad modes), custom,
hooks, functional (and higher order), multi_output, inplace, rare (RARE: beyond the ci
profile), and broken (the reference with the bug of a mutant: fast engines for tests/meta).
"""
from .base import Mutant, OpMutant
from .killers import (ACCUMULATION, BATCHED_GRAD, BROADCAST, CONTROL, CUSTOM, ERRORS,
                      FUNCTION_OUTPUT_HOOKS, FUNCTIONAL, FUNCTIONS_OF_LEAVES, GRAD_IN_FULL,
                      GRAD_MODES, GRADS_AS_VALUES, INPLACE, MODULE_HOOKS, MULTI, MULTI_ROOT, OP,
                      POST_ACCUMULATE, REMOVED_BY_HANDLE, RETAIN_GRAPH, REUSE,
                      SELF_REMOVING_HOOKS, TENSOR_HOOKS, THROUGH_GRAD, WEIGHTS, Killer,
                      PROPERTY_SUITES, all_suite_tests)
from .derivatives import (SinSign, ExpRelative1e4, TanhInFloat32, ReluEverywhere,
                          PowExponentFactor, MulOwnOperand, DivDenominatorSign, BroadcastMean,
                          MatmulReshapedNotTransposed, ReshapeAsTranspose, MeanMirroredDim,
                          SumKeepdimFalse, MaxFirstElement, SoftmaxUncentered, LogSoftmaxNoSum,
                          PermuteNotInverted, ExpandMean, IndexRepeatedOnce, GetitemIgnoresStep,
                          CatNoOffset, WhereInverted, LinearBiasMean, CrossEntropyNotAveraged,
                          MseHalf)
from .weights import (WeightsIgnored, WeightsTransposed, FirstRootOnly, ImplicitOnesForNonscalar)
from .accumulation import (GradOverwritten, RetainGraphAlways, RetainGraphNever, ZeroGradNoop,
                           ZeroGradNeverNone, FirstUseOnly, LastUseOnly)
from .graph_control import (NonLeafGradFilled, RetainGradBeforeHooks, DetachLeaks, NoGradIgnored,
                            EnableGradIgnored, InferenceModeAsNoGrad, RequiresGradOffAccumulates,
                            DetachCopies)
from .custom import (CustomGradsSwapped, CustomNoneAsZeros, CustomIncomingGradReplaced,
                     CustomNeedsInputGradWrong, CustomMaterializeIgnored)
from .hooks import (HookReturnIgnored, HooksReversed, ModuleHookParamGrads,
                    PostAccumulateBeforeAccumulation, HookRemovalIgnored,
                    RemovalBetweenBackwardsIgnored, FunctionOutputHooksSkipped)
from .functional import (FunctionalGradAccumulates, AllowUnusedZeros, CreateGraphIgnored,
                         MulBackwardConstant, DotGradDetached, MaterializeGradsIgnored,
                         BatchedGradOneRow, GradOutputsReversed, JacobianTransposed)
from .multi_output import (MultiOpMutant, UnusedPieceOnes, SortGradUnpermuted, MinDimAtArgmax)
from .inplace import (VersionNeverChecked, InplaceNotRecorded, ViewWriteNotReachingBase,
                      LeafInplaceAllowed)
from .rare import (UnbroadcastBufferReused, TanhThirdDerivative, CustomSavedOutputRecord,
                   RetainGradSquared, RootsKeyedByPointer)
from .rare import RARE


ZOO = (
    SinSign, ExpRelative1e4, TanhInFloat32, ReluEverywhere, PowExponentFactor, MulOwnOperand,
    DivDenominatorSign, BroadcastMean, MatmulReshapedNotTransposed, ReshapeAsTranspose,
    MeanMirroredDim, SumKeepdimFalse, MaxFirstElement, SoftmaxUncentered, LogSoftmaxNoSum,
    PermuteNotInverted, ExpandMean, IndexRepeatedOnce, GetitemIgnoresStep, CatNoOffset,
    WhereInverted, LinearBiasMean, CrossEntropyNotAveraged, MseHalf,
    WeightsIgnored, WeightsTransposed, FirstRootOnly, ImplicitOnesForNonscalar,
    GradOverwritten, RetainGraphAlways, RetainGraphNever, ZeroGradNoop, ZeroGradNeverNone,
    FunctionalGradAccumulates, AllowUnusedZeros,
    FirstUseOnly, LastUseOnly,
    NonLeafGradFilled, RetainGradBeforeHooks, DetachLeaks, NoGradIgnored,
    CustomGradsSwapped, CustomNoneAsZeros, CustomIncomingGradReplaced,
    CustomNeedsInputGradWrong, CustomMaterializeIgnored,
    HookReturnIgnored, HooksReversed, ModuleHookParamGrads,
    UnusedPieceOnes, SortGradUnpermuted, MinDimAtArgmax,
    EnableGradIgnored, InferenceModeAsNoGrad, RequiresGradOffAccumulates, DetachCopies,
    CreateGraphIgnored, MulBackwardConstant, DotGradDetached,
    PostAccumulateBeforeAccumulation, HookRemovalIgnored, RemovalBetweenBackwardsIgnored,
    FunctionOutputHooksSkipped,
    MaterializeGradsIgnored, BatchedGradOneRow, GradOutputsReversed, JacobianTransposed,
    VersionNeverChecked, InplaceNotRecorded, ViewWriteNotReachingBase, LeafInplaceAllowed,
)
BY_ID = {m.id: m for m in ZOO + RARE}
assert len(BY_ID) == len(ZOO) + len(RARE), "duplicate mutant ids"

__all__ = ["Mutant", "OpMutant", "ACCUMULATION", "BATCHED_GRAD", "BROADCAST", "CONTROL", "CUSTOM",
           "ERRORS", "FUNCTION_OUTPUT_HOOKS", "FUNCTIONAL", "FUNCTIONS_OF_LEAVES", "GRAD_IN_FULL",
           "GRAD_MODES", "GRADS_AS_VALUES", "INPLACE", "MODULE_HOOKS", "MULTI", "MULTI_ROOT", "OP",
           "POST_ACCUMULATE", "REMOVED_BY_HANDLE", "RETAIN_GRAPH", "REUSE", "SELF_REMOVING_HOOKS",
           "TENSOR_HOOKS", "THROUGH_GRAD", "WEIGHTS", "Killer", "PROPERTY_SUITES",
           "all_suite_tests", "MultiOpMutant", "SinSign",
           "ExpRelative1e4", "TanhInFloat32", "ReluEverywhere", "PowExponentFactor",
           "MulOwnOperand", "DivDenominatorSign", "BroadcastMean", "MatmulReshapedNotTransposed",
           "ReshapeAsTranspose", "MeanMirroredDim", "SumKeepdimFalse", "MaxFirstElement",
           "SoftmaxUncentered", "LogSoftmaxNoSum", "PermuteNotInverted", "ExpandMean",
           "IndexRepeatedOnce", "GetitemIgnoresStep", "CatNoOffset", "WhereInverted",
           "LinearBiasMean", "CrossEntropyNotAveraged", "MseHalf", "WeightsIgnored",
           "WeightsTransposed", "FirstRootOnly", "ImplicitOnesForNonscalar", "GradOverwritten",
           "RetainGraphAlways", "RetainGraphNever", "ZeroGradNoop", "ZeroGradNeverNone",
           "FirstUseOnly", "LastUseOnly", "NonLeafGradFilled", "RetainGradBeforeHooks",
           "DetachLeaks", "NoGradIgnored", "EnableGradIgnored", "InferenceModeAsNoGrad",
           "RequiresGradOffAccumulates", "DetachCopies", "CustomGradsSwapped", "CustomNoneAsZeros",
           "CustomIncomingGradReplaced", "CustomNeedsInputGradWrong", "CustomMaterializeIgnored",
           "HookReturnIgnored", "HooksReversed", "ModuleHookParamGrads",
           "PostAccumulateBeforeAccumulation", "HookRemovalIgnored",
           "RemovalBetweenBackwardsIgnored", "FunctionOutputHooksSkipped",
           "FunctionalGradAccumulates", "AllowUnusedZeros", "CreateGraphIgnored",
           "MulBackwardConstant", "DotGradDetached", "MaterializeGradsIgnored",
           "BatchedGradOneRow", "GradOutputsReversed", "JacobianTransposed", "UnusedPieceOnes",
           "SortGradUnpermuted", "MinDimAtArgmax", "VersionNeverChecked", "InplaceNotRecorded",
           "ViewWriteNotReachingBase", "LeafInplaceAllowed", "UnbroadcastBufferReused",
           "TanhThirdDerivative", "CustomSavedOutputRecord", "RetainGradSquared",
           "RootsKeyedByPointer", "RARE", "ZOO", "BY_ID"]
