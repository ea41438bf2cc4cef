"""Tests of the CI kit: the GitHub Action and example workflows, and the GitLab plan note."""
