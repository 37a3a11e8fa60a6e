"""The Python side's one "did you mean" (`localforge._suggest`): what each front end and
service offers for a mistyped command, recipe, executor, registry tool or seed."""

from localforge._suggest import did_you_mean


def test_the_closest_option_or_nothing():
    assert did_you_mean("rn", ["run", "validate", "new"]) == "did you mean `run`?"
    assert did_you_mean("hello-localforj", {"hello-localforge": 1, "batch-resize": 2}) == "did you mean `hello-localforge`?"
    assert did_you_mean("zzz", ["run", "validate"]) == ""
    assert did_you_mean("rey", ("local", "ray")) == "did you mean `ray`?"


def test_several_close_names_each_standing_for_what_is_offered():
    # A seed is known by its id, each word of its id and its tags; a close word offers the seeds.
    names = {"add-whisper": {"add-whisper"}, "add": {"add-whisper", "add-comfyui"}, "whisper": {"add-whisper"}}
    assert did_you_mean("wisper", names, n=3, cutoff=0.7, offer=names.__getitem__) == "did you mean `add-whisper`?"
    assert did_you_mean("ad", names, n=3, cutoff=0.5, offer=names.__getitem__) == "did you mean `add-comfyui` or `add-whisper`?"
    assert did_you_mean("wisper", names, n=3, cutoff=0.99, offer=names.__getitem__) == ""
