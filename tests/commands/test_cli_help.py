from fresh_python import modules_loaded_by

from speccal.cli import build_parser


def test_help_and_run_tables_do_not_import_tensorflow():
    code = "from speccal.cli import build_parser; build_parser(); import speccal.experiments"
    assert modules_loaded_by(code) == []


def test_train_help_documents_the_issue_words():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices
    text = sub["train"].format_help()
    for word in ("--dataset", "--root PATH", "--loss NAME", "--epochs N", "--patch-size D H W",
                 "--batch-size B", "--seed S", "--out RUN_DIR", "--lam", "--window", "--bands",
                 "--resume", "--strategy"):  # fmt: skip
        assert word in text, word
    assert "RUN_DIR" in sub["evaluate"].format_help()
    assert "--format {markdown,csv,latex}" in sub["compare"].format_help()


def test_score_and_evaluate_help_document_the_issue_words():
    sub = build_parser()._subparsers._group_actions[0].choices
    text = " ".join(sub["score"].format_help().split())
    for word in ("PRED_DIR LABEL_DIR", "--out OUT", "--protocol {speccal,nixon,mbls,monai}",
                 "--logits", "--axes AXES", "--save-maps", "--jobs N", "--scheduler ADDRESS",
                 "--format {markdown,csv,latex}", "--quiet", "--allow-missing",
                 "'probabilities'", "(C, Z, Y, X)", "SaveImage"):  # fmt: skip
        assert word in text, word
    text = sub["evaluate"].format_help()
    for word in ("--protocol {speccal,nixon,mbls,monai}", "--save-maps", "--scheduler ADDRESS"):
        assert word in text, word
