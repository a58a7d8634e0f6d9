#!/usr/bin/env python3
"""CDK entry point: settings from cdk.json context -> TollgateStack -> cdk-nag checks -> synth."""

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.domains import stack_environment
from infra.settings import Settings, SettingsError
from infra.stack import TollgateStack
from tollgate import contract

app = cdk.App()
try:
    settings = Settings.from_context({key: app.node.try_get_context(key) for key in Settings.context_keys()})
    # Custom domains check their certificates against the region the stack deploys to (infra/domains.py).
    TollgateStack(app, contract.STACK_NAME, settings=settings, env=stack_environment(settings.domains, os.environ))
except SettingsError as error:
    sys.exit(f"Tollgate settings: {error}")  # the message names the key; a traceback would only hide it
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
