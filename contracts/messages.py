"""What the contract registry says: a contract that is not there, versions that cannot be stored."""

from language import N_, Texts

TEXTS = Texts("contracts", {
    "unknown": N_("no contract '{contract}' in the store; 'sib contract list' shows the loaded ones"),
    "version_changed": N_("version {version} of contract '{contract}' is already stored with other terms; stored "
                          "versions never change: add an amendment instead"),
    "versions_missing": N_("contract '{contract}' has stored version(s) {versions} that this file lacks"),
})
