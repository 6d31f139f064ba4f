"""Expands a SAM template into plain CloudFormation with aws-sam-translator, offline.

Usage: python sam_translate.py TEMPLATE.yaml > template.json
The region only fills pseudo-parameters; no AWS call is made (the template names no
managed policies, so the policy map stays empty).
"""
import json
import os
import sys

import yaml
from samtranslator.parser import parser
from samtranslator.translator.translator import Translator

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
with open(sys.argv[1], encoding="utf-8") as source:
    template = yaml.safe_load(source)
translated = Translator(managed_policy_map={}, sam_parser=parser.Parser()).translate(
    sam_template=template, parameter_values={}
)
json.dump(translated, sys.stdout, indent=1)
